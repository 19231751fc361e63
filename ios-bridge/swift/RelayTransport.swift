// Relay GET/ACK over URLSessionWebSocketTask (documentation code). Protocol:
// docs/protocol.md — one JSON object per text frame, answers matched by corrId.
// GET answers MSG (with our corrId) or ERR PROTO_NO_MSG (empty queue → null).

import Foundation

final class RelayTransport: NSObject {
    private let url: URL
    private let creds: [String: String]               // queueId → recipient credential
    private var task: URLSessionWebSocketTask?
    private var pending: [String: (Result<[String: Any], HostError>) -> Void] = [:]
    private let q = DispatchQueue(label: "nsekit.relay")
    private var seq = 0
    private lazy var session = URLSession(configuration: .default, delegate: nil, delegateQueue: nil)
    var timeout: TimeInterval = 10

    init(url: URL, creds: [String: String]) { self.url = url; self.creds = creds }

    private func connectIfNeeded() {
        guard task == nil || task?.state != .running else { return }
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
                case .failure(let e):
                    self.failAll(HostError(code: "PROTO_CLOSED", message: e.localizedDescription))
                    self.task = nil
                case .success(.string(let s)):
                    if let d = s.data(using: .utf8), let f = (try? JSONSerialization.jsonObject(with: d)) as? [String: Any],
                       let corr = f["corrId"] as? String, let cb = self.pending.removeValue(forKey: corr) {
                        cb(.success(f))
                    }
                    self.receive(t)
                case .success:
                    self.receive(t)
                }
            }
        }
    }

    private func failAll(_ e: HostError) {
        let cbs = pending.values
        pending.removeAll()
        cbs.forEach { $0(.failure(e)) }
    }

    private func command(_ frame: [String: Any], _ done: @escaping (Result<[String: Any], HostError>) -> Void) {
        q.async {
            self.connectIfNeeded()
            self.seq += 1
            let corr = "c\(self.seq)"
            var f = frame
            f["corrId"] = corr
            self.pending[corr] = done
            let text = String(data: try! JSONSerialization.data(withJSONObject: f), encoding: .utf8)!
            self.task?.send(.string(text)) { err in
                if let err = err { self.q.async { self.pending.removeValue(forKey: corr)?(.failure(HostError(code: "PROTO_CLOSED", message: err.localizedDescription))) } }
            }
            self.q.asyncAfter(deadline: .now() + self.timeout) {
                self.pending.removeValue(forKey: corr)?(.failure(HostError(code: "PROTO_TIMEOUT", message: "no answer in \(self.timeout) s")))
            }
        }
    }

    /// → the contract's WireRelayMessage dictionary, or nil for an empty queue.
    func get(_ queueId: String, _ done: @escaping (Result<[String: Any]?, HostError>) -> Void) {
        guard let cred = creds[queueId] else { return done(.failure(HostError(code: "PROTO_NO_QUEUE", message: "no credential"))) }
        command(["type": "GET", "queueId": queueId, "cred": cred]) { r in
            done(r.flatMap { f in
                switch f["type"] as? String {
                case "MSG":
                    let flags = f["flags"] as? [String: Any]
                    return .success(["msgId": f["msgId"] ?? "", "queueId": f["queueId"] ?? "", "ts": f["ts"] ?? 0,
                                     "notification": flags?["notification"] as? Bool ?? true, "body": f["body"] ?? ""])
                case "ERR" where f["code"] as? String == "PROTO_NO_MSG":
                    return .success(nil)
                case "ERR":
                    return .failure(HostError(code: f["code"] as? String ?? "PROTO_MALFORMED", message: f["message"] as? String ?? ""))
                default:
                    return .failure(HostError(code: "PROTO_MALFORMED", message: "unexpected answer to GET"))
                }
            })
        }
    }

    func ack(_ queueId: String, _ msgId: String, _ done: @escaping (Result<Void, HostError>) -> Void) {
        guard let cred = creds[queueId] else { return done(.failure(HostError(code: "PROTO_NO_QUEUE", message: "no credential"))) }
        command(["type": "ACK", "queueId": queueId, "cred": cred, "msgId": msgId]) { r in
            done(r.flatMap { f in
                f["type"] as? String == "OK" ? .success(())
                    : .failure(HostError(code: f["code"] as? String ?? "PROTO_MALFORMED", message: f["message"] as? String ?? ""))
            })
        }
    }
}
