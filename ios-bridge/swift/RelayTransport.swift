// Relay transport over URLSessionWebSocketTask (documentation code). Protocol:
// docs/protocol.md — one JSON object per text frame, answers matched by corrId.
// Both processes: GET (answered MSG with our corrId, or ERR PROTO_NO_MSG → nil)
// and ACK, connecting on demand. The app also: its connection (transportConnect:
// onClose once when it ends, onEnd per relay END), SUB (MSG frames without corrId
// go to the queue's onMessage), UNSUB, SEND, PING, NSUB, NDEL on that connection,
// and the relay's HTTP status endpoint (low-power polls).
// All state lives on `q`. Callbacks are Swift closures: NsekitHost wraps each to
// hop to the JS queue, so nothing here touches JavaScriptCore.

import Foundation

final class RelayTransport: NSObject {
    private let url: URL
    private let statusBase: URL?
    private let creds: [String: String]               // queueId → recipient credential
    private let senderCreds: [String: String]         // queueId → sender credential (the app's sendQueues)
    private var task: URLSessionWebSocketTask?
    private var pending: [String: (Result<[String: Any], HostError>) -> Void] = [:]
    /// The app's connection callbacks and subscriptions: they belong to `task` and end with it.
    private var onClose: (() -> Void)?
    private var onEnd: ((String) -> Void)?
    private var subs: [String: ([String: Any]) -> Void] = [:]
    private let q = DispatchQueue(label: "nsekit.relay")
    private var seq = 0
    private lazy var session = URLSession(configuration: .default, delegate: nil, delegateQueue: nil)
    var timeout: TimeInterval = 10

    init(url: URL, creds: [String: String], senderCreds: [String: String] = [:], statusBase: URL? = nil) {
        self.url = url; self.creds = creds; self.senderCreds = senderCreds; self.statusBase = statusBase
    }

    // MARK: - socket (on q)

    private func connectIfNeeded() {
        if let t = task, t.state != .running { ended(t, "socket not running") }
        guard task == nil else { return }
        let t = session.webSocketTask(with: url)
        task = t
        t.resume()
        receive(t)
    }

    private func receive(_ t: URLSessionWebSocketTask) {
        t.receive { [weak self] r in
            guard let self = self else { return }
            self.q.async {
                switch r {
                case .failure(let e): self.ended(t, e.localizedDescription)
                case .success(.string(let s)): self.frame(s); self.receive(t)
                case .success: self.receive(t)               // binary frames are not the protocol's
                }
            }
        }
    }

    /// Socket `t` is over (receive failed, or it was replaced): its commands fail with PROTO_CLOSED, its
    /// subscriptions are gone (the relay forgets them too) and its onClose is called — once.
    private func ended(_ t: URLSessionWebSocketTask, _ why: String) {
        guard t === task else { return }                   // an older socket: ended already
        task = nil
        t.cancel(with: .goingAway, reason: nil)
        let cbs = pending.values
        pending.removeAll()
        cbs.forEach { $0(.failure(HostError(code: "PROTO_CLOSED", message: why))) }
        subs.removeAll()
        let close = onClose
        onClose = nil; onEnd = nil
        close?()
    }

    private func frame(_ s: String) {
        guard let d = s.data(using: .utf8), let f = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any] else { return }
        if let corr = f["corrId"] as? String {
            pending.removeValue(forKey: corr)?(.success(f))  // none: an answer after its timeout, dropped
            return
        }
        switch f["type"] as? String {
        case "MSG":                                         // a delivery on this connection's SUB
            if let qid = f["queueId"] as? String { subs[qid]?(Self.message(f)) }
        case "END":                                         // another connection took the queue
            if let qid = f["queueId"] as? String { subs[qid] = nil; onEnd?(qid) }
        default: break
        }
    }

    /// One command frame, answered by the frame with its corrId. `connect`: open a socket if there is none
    /// (the NSE's GET/ACK); otherwise the app's current connection or PROTO_CLOSED.
    private func command(_ frame: [String: Any], connect: Bool = true, timeout: TimeInterval? = nil,
                         _ done: @escaping (Result<[String: Any], HostError>) -> Void) {
        q.async {
            if connect { self.connectIfNeeded() }
            guard let t = self.task else { return done(.failure(HostError(code: "PROTO_CLOSED", message: "not connected"))) }
            self.seq += 1
            let corr = "c\(self.seq)"
            var f = frame
            f["corrId"] = corr
            self.pending[corr] = done
            let text = String(data: try! JSONSerialization.data(withJSONObject: f), encoding: .utf8)!
            t.send(.string(text)) { err in
                if let err = err { self.q.async { self.pending.removeValue(forKey: corr)?(.failure(HostError(code: "PROTO_CLOSED", message: err.localizedDescription))) } }
            }
            let limit = timeout ?? self.timeout
            self.q.asyncAfter(deadline: .now() + limit) {
                self.pending.removeValue(forKey: corr)?(.failure(HostError(code: "PROTO_TIMEOUT", message: "no answer in \(limit) s")))
            }
        }
    }

    private static func expect(_ type: String, _ f: [String: Any]) -> Result<[String: Any], HostError> {
        switch f["type"] as? String {
        case type: return .success(f)
        case "ERR": return .failure(HostError(code: f["code"] as? String ?? "PROTO_MALFORMED", message: f["message"] as? String ?? ""))
        default: return .failure(HostError(code: "PROTO_MALFORMED", message: "expected \(type)"))
        }
    }

    /// A MSG frame → the contract's WireRelayMessage (the core checks it; the flag passes through, absent = true).
    private static func message(_ f: [String: Any]) -> [String: Any] {
        let flags = f["flags"] as? [String: Any]
        return ["msgId": f["msgId"] ?? "", "queueId": f["queueId"] ?? "", "ts": f["ts"] ?? 0,
                "notification": flags?["notification"] as? Bool ?? true, "body": f["body"] ?? ""]
    }

    private static let noCred = HostError(code: "PROTO_NO_QUEUE", message: "no recipient credential for the queue")

    // MARK: - both processes

    /// → the contract's WireRelayMessage dictionary, or nil for an empty queue.
    func get(_ queueId: String, _ done: @escaping (Result<[String: Any]?, HostError>) -> Void) {
        guard let cred = creds[queueId] else { return done(.failure(Self.noCred)) }
        command(["type": "GET", "queueId": queueId, "cred": cred]) { r in
            done(r.flatMap { f in
                if f["type"] as? String == "ERR", f["code"] as? String == "PROTO_NO_MSG" { return .success(nil) }
                return Self.expect("MSG", f).map { m -> [String: Any]? in Self.message(m) }
            })
        }
    }

    func ack(_ queueId: String, _ msgId: String, _ done: @escaping (Result<Void, HostError>) -> Void) {
        guard let cred = creds[queueId] else { return done(.failure(Self.noCred)) }
        command(["type": "ACK", "queueId": queueId, "cred": cred, "msgId": msgId]) { r in done(r.flatMap { Self.expect("OK", $0) }.map { _ in () }) }
    }

    // MARK: - the app's connection

    /// Open the socket (if open, answer at once) and keep the callbacks with it. The socket opens lazily, so a
    /// PING → PONG round trip proves it; a connection that never opened has no callbacks (its error is the answer).
    func connect(onClose: @escaping () -> Void, onEnd: @escaping (String) -> Void, _ done: @escaping (Result<Void, HostError>) -> Void) {
        q.async {
            if self.task?.state == .running {
                self.onClose = onClose; self.onEnd = onEnd
                return done(.success(()))
            }
            self.connectIfNeeded()
            self.command(["type": "PING"], connect: false) { r in
                let ok = r.flatMap { Self.expect("PONG", $0) }
                if case .success = ok { self.onClose = onClose; self.onEnd = onEnd }
                done(ok.map { _ in () })
            }
        }
    }

    /// SUB; `onMessage` is registered before the frame goes out (the relay sends the first MSG right after OK).
    func subscribe(_ queueId: String, onMessage: @escaping ([String: Any]) -> Void, _ done: @escaping (Result<Void, HostError>) -> Void) {
        guard let cred = creds[queueId] else { return done(.failure(Self.noCred)) }
        q.async {
            guard self.task != nil else { return done(.failure(HostError(code: "PROTO_CLOSED", message: "not connected"))) }
            self.subs[queueId] = onMessage
            self.command(["type": "SUB", "queueId": queueId, "cred": cred], connect: false) { r in
                let ok = r.flatMap { Self.expect("OK", $0) }
                if case .failure = ok { self.subs[queueId] = nil }
                done(ok.map { _ in () })
            }
        }
    }

    /// UNSUB: no onMessage for the queue from now on. Without a socket there is nothing to end.
    func unsubscribe(_ queueId: String, _ done: @escaping (Result<Void, HostError>) -> Void) {
        guard let cred = creds[queueId] else { return done(.failure(Self.noCred)) }
        q.async {
            self.subs[queueId] = nil
            guard self.task != nil else { return done(.success(())) }
            self.command(["type": "UNSUB", "queueId": queueId, "cred": cred], connect: false) { r in done(r.flatMap { Self.expect("OK", $0) }.map { _ in () }) }
        }
    }

    /// SEND with the sender credential and the idempotency clientId → {msgId?, duplicate}.
    func send(_ queueId: String, body: String, notification: Bool, clientId: String, _ done: @escaping (Result<[String: Any], HostError>) -> Void) {
        guard let cred = senderCreds[queueId] else { return done(.failure(HostError(code: "PROTO_NO_QUEUE", message: "no sender credential"))) }
        var f: [String: Any] = ["type": "SEND", "queueId": queueId, "senderCred": cred, "body": body, "flags": ["notification": notification]]
        if !clientId.isEmpty { f["clientId"] = clientId }   // the same on every resend: the relay dedupes on it
        command(f, connect: false) { r in
            done(r.flatMap { Self.expect("OK", $0) }.map { o in
                var a: [String: Any] = ["duplicate": o["duplicate"] as? Bool ?? false]
                if let id = o["msgId"] as? String { a["msgId"] = id }
                return a
            })
        }
    }

    /// No PONG within 3 s is a lost connection (host-contract.md): end the socket, so onClose comes and the
    /// core's reconnect opens a fresh one instead of being answered "open" by a dead socket.
    func ping(_ done: @escaping (Result<Void, HostError>) -> Void) {
        command(["type": "PING"], connect: false, timeout: 3) { r in
            if case .failure(let e) = r, e.code == "PROTO_TIMEOUT", let t = self.task { self.ended(t, "no PONG in 3 s") }
            done(r.flatMap { Self.expect("PONG", $0) }.map { _ in () })
        }
    }

    /// NSUB → the relay's NID {notifierId, notifierKey (base64, 32 bytes)}.
    func nsub(_ queueId: String, deviceToken: String, platform: String, appVersion: String, _ done: @escaping (Result<[String: Any], HostError>) -> Void) {
        guard let cred = creds[queueId] else { return done(.failure(Self.noCred)) }
        let f: [String: Any] = ["type": "NSUB", "queueId": queueId, "cred": cred, "deviceToken": deviceToken, "platform": platform, "appVersion": appVersion]
        command(f, connect: false) { r in
            done(r.flatMap { Self.expect("NID", $0) }.map { ["notifierId": $0["notifierId"] ?? "", "notifierKey": $0["notifierKey"] ?? ""] })
        }
    }

    /// NDEL (logout): the relay keeps the token, inactive.
    func ndel(_ queueId: String, _ done: @escaping (Result<Void, HostError>) -> Void) {
        guard let cred = creds[queueId] else { return done(.failure(Self.noCred)) }
        command(["type": "NDEL", "queueId": queueId, "cred": cred], connect: false) { r in done(r.flatMap { Self.expect("OK", $0) }.map { _ in () }) }
    }

    // MARK: - the status endpoint (app, low-power)

    /// One HTTP GET of `path` (absolute, with its signed query) → {status, body: parsed JSON}. Any status is an
    /// answer (the core reads 401/503 bodies); only a transport failure is an error.
    func status(_ path: String, _ done: @escaping (Result<[String: Any], HostError>) -> Void) {
        guard let base = statusBase, let url = URL(string: path, relativeTo: base) else {
            return done(.failure(HostError(code: "PROTO_MALFORMED", message: "no status endpoint for \(path)")))
        }
        let req = URLRequest(url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: timeout)
        session.dataTask(with: req) { data, response, error in
            if let error = error {
                let code = (error as? URLError)?.code == .timedOut ? "PROTO_TIMEOUT" : "PROTO_CLOSED"
                return done(.failure(HostError(code: code, message: error.localizedDescription)))
            }
            guard let http = response as? HTTPURLResponse else { return done(.failure(HostError(code: "PROTO_CLOSED", message: "no HTTP answer"))) }
            let body = data.flatMap { try? JSONSerialization.jsonObject(with: $0) } ?? [String: Any]()
            done(.success(["status": http.statusCode, "body": body]))
        }.resume()
    }
}
