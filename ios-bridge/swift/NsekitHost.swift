// Reference host for the nsekit bridge (documentation code, not compiled here).
// Contract: ios-bridge/host-contract.md. One JSContext per process; every call
// into JS — facade calls, done callbacks, timer fires — runs on `jsQueue`.

import Foundation
import JavaScriptCore
import Security
import os

final class NsekitHost {
    let jsQueue = DispatchQueue(label: "nsekit.js")          // THE serial queue
    let ioQueue = DispatchQueue(label: "nsekit.io")           // blocking work (SQLite, fsync, lock backoff)
    private(set) var context: JSContext!
    private(set) var core: JSValue!
    /// (core, method, args, ok, fail) → one call into JS per facade call (see call()).
    private var invoker: JSValue!
    private var timers: [Int: DispatchSourceTimer] = [:]
    private var nextTimerId = 0
    private let logger = Logger(subsystem: "chat.example.nsekit", category: "core")

    let lock: FileLock
    let store: SharedStore
    let inbox: PendingInbox
    let transport: RelayTransport
    /// Set by the NSE / app glue: called on jsQueue with (requestId, result dictionary).
    var onContentReady: ((String, [String: Any]) -> Void)?
    var onPhase: ((String) -> Void)?
    /// App: the session's events (left-front → post "app left front", notification → show, error → retry/report).
    var onSessionEvent: ((String, [String: Any]) -> Void)?
    /// The app's yield record (docs/lock.md "Yield requests"): a small file {"ts": ms} in the app group.
    /// The app writes/removes it (NsekitHost+App.swift), the NSE reads it before every GET.
    let yieldPath: String

    /// `queueCreds`: queueId → recipient credential (both processes); `senderCreds`: queueId → sender
    /// credential for the app's `sendQueues` (the NSE passes none); `statusBase`: the relay's HTTPS origin
    /// for the low-power status endpoint (app).
    init(groupDir: URL, relay: URL, queueCreds: [String: String], senderCreds: [String: String] = [:], statusBase: URL? = nil) {
        lock = FileLock(path: groupDir.appendingPathComponent("nsekit.lock").path)
        store = SharedStore(path: groupDir.appendingPathComponent("nsekit.sqlite").path)
        inbox = PendingInbox(path: groupDir.appendingPathComponent("pending-inbox.jsonl").path)
        transport = RelayTransport(url: relay, creds: queueCreds, senderCreds: senderCreds, statusBase: statusBase)
        yieldPath = groupDir.appendingPathComponent("nsekit.yield").path
    }

    /// The store key as the keychain gives it (nil: locked). On the io queue, where the store reads it.
    func setStoreKey(_ keyHex: String?, saltHex: String?) {
        ioQueue.async { self.store.keyHex = keyHex; self.store.saltHex = saltHex }
    }

    /// Load the role's bundle (nsekit-nse.js / nsekit-app.js, by config["role"]) and create the core. Call once, on any thread.
    func start(config: [String: Any]) {
        jsQueue.sync {
            let vm = JSVirtualMachine()!
            context = JSContext(virtualMachine: vm)!
            context.exceptionHandler = { [weak self] _, exc in
                // An uncaught exception is a bug in the core or the host: log it, never crash the NSE.
                let stack = exc?.objectForKeyedSubscript("stack")?.toString() ?? ""
                self?.logger.fault("JS exception: \(exc?.toString() ?? "?", privacy: .public) \(stack, privacy: .public)")
            }
            let role = config["role"] as? String == "app" ? "app" : "nse"
            let url = Bundle.main.url(forResource: "nsekit-\(role)", withExtension: "js")!
            context.evaluateScript(try! String(contentsOf: url), withSourceURL: url)
            let ns = context.objectForKeyedSubscript("NsekitCore")!
            core = ns.invokeMethod("createCore", withArguments: [makeHostObject(role: role), config])
            if core == nil || core.isUndefined { fatalError("createCore failed: see the exception log") }
            invoker = context.evaluateScript("""
            (function (core, method, args, ok, fail) {
              var p;
              try { p = core[method].apply(core, args); } catch (e) { p = Promise.reject(e); }
              Promise.resolve(p).then(ok, fail);
            })
            """)
        }
    }

    /// Call a facade method on the JS queue; `then` receives (value, nil) or (nil, error {code, message}) on
    /// the JS queue. One call into JS: a method that throws at once (settings, pushTokenChanged with bad
    /// input) is a rejection like an async one, never a silent "undefined"; a failure nobody waits for is logged.
    func call(_ method: String, _ args: [Any] = [], then: ((JSValue?, JSValue?) -> Void)? = nil) {
        jsQueue.async {
            let ok: @convention(block) (JSValue) -> Void = { v in then?(v, nil) }
            let fail: @convention(block) (JSValue) -> Void = { [weak self] e in
                if let then = then { return then(nil, e) }
                let code = e.forProperty("code")?.toString() ?? "?"
                self?.logger.error("\(method, privacy: .public) failed: \(code, privacy: .public)")
            }
            self.invoker.call(withArguments: [self.core!, method, args, ok, fail])
        }
    }

    // MARK: - host object

    /// `{code, message}` for done(err, …).
    static func err(_ code: String, _ message: String) -> [String: Any] { ["code": code, "message": message] }

    /// Complete an async host call later, on the JS queue (never synchronously inside the call).
    func finish(_ done: JSValue, _ result: Result<Any, HostError>) {
        jsQueue.async {
            switch result {
            case .success(let v): done.call(withArguments: [NSNull(), v])
            case .failure(let e): done.call(withArguments: [NsekitHost.err(e.code, e.message)])
            }
        }
    }

    /// The NSE's 17 functions (NSE_HOST_FUNCTIONS: what both bundles call, plus lockYieldPending and
    /// contentReady); the app's host adds its own (NsekitHost+App.swift). Extra functions are harmless.
    private func makeHostObject(role: String) -> JSValue {
        let h = JSValue(newObjectIn: context)!
        func set(_ name: String, _ block: Any) { h.setObject(block, forKeyedSubscript: name as NSString) }

        // clock — sync
        set("now", { Date().timeIntervalSince1970 * 1000 } as @convention(block) () -> Double)
        set("setTimer", { [unowned self] (ms: Double, fire: JSValue) -> Int in
            self.nextTimerId += 1
            let id = self.nextTimerId
            let t = DispatchSource.makeTimerSource(queue: self.jsQueue)   // fires on the JS queue
            t.schedule(deadline: .now() + .milliseconds(Int(ms)), leeway: .milliseconds(5))
            t.setEventHandler { [weak self] in
                self?.timers[id]?.cancel(); self?.timers[id] = nil
                fire.call(withArguments: [])
            }
            self.timers[id] = t
            t.resume()
            return id
        } as @convention(block) (Double, JSValue) -> Int)
        set("clearTimer", { [unowned self] (id: Int) in
            self.timers[id]?.cancel(); self.timers[id] = nil
        } as @convention(block) (Int) -> Void)

        // randomness — sync
        set("randomHex", { (n: Int) -> String in
            var b = [UInt8](repeating: 0, count: n)
            guard SecRandomCopyBytes(kSecRandomDefault, n, &b) == errSecSuccess else { return "" } // "" → BRIDGE_HOST_ERROR
            return b.map { String(format: "%02x", $0) }.joined()
        } as @convention(block) (Int) -> String)

        // log — sync, never throws; fields is a JSON string without secrets
        set("log", { [unowned self] (level: String, tag: String, msg: String, fields: String) in
            let line = "[\(tag)] \(msg) \(fields)"
            switch level {
            case "error": self.logger.error("\(line, privacy: .public)")
            case "warn": self.logger.warning("\(line, privacy: .public)")
            case "debug": self.logger.debug("\(line, privacy: .public)")
            default: self.logger.info("\(line, privacy: .public)")
            }
        } as @convention(block) (String, String, String, String) -> Void)

        // lock — async
        set("lockAcquire", { [unowned self] (timeoutMs: Double, done: JSValue) in
            self.lock.acquire(timeoutMs: Int(timeoutMs), on: self.ioQueue) { r in
                self.finish(done, r.map { ["generation": $0.generation, "dirty": $0.dirty] as Any })
            }
        } as @convention(block) (Double, JSValue) -> Void)
        set("lockRelease", { [unowned self] (wrote: Bool, done: JSValue) in
            self.ioQueue.async { self.finish(done, self.lock.release(wrote: wrote).map { NSNull() as Any }) }
        } as @convention(block) (Bool, JSValue) -> Void)

        // store — async, on the io queue
        set("storePut", { [unowned self] (m: [String: Any], done: JSValue) in
            self.ioQueue.async { self.finish(done, self.store.put(m).map { $0 as Any }) }
        } as @convention(block) ([String: Any], JSValue) -> Void)
        set("storeMarkNotified", { [unowned self] (msgId: String, done: JSValue) in
            self.ioQueue.async { self.finish(done, self.store.markNotified(msgId).map { $0 as Any }) }
        } as @convention(block) (String, JSValue) -> Void)
        // the read state — async, on the io queue (both roles: the badge, nothing re-shown once read)
        set("storeUnreadCount", { [unowned self] (done: JSValue) in
            self.ioQueue.async { self.finish(done, self.store.unreadCount().map { $0 as Any }) }
        } as @convention(block) (JSValue) -> Void)
        set("storeIsRead", { [unowned self] (msgId: String, done: JSValue) in
            self.ioQueue.async { self.finish(done, self.store.isRead(msgId).map { $0 as Any }) }
        } as @convention(block) (String, JSValue) -> Void)
        set("storeMarkThreadRead", { [unowned self] (queueId: String, upTo: JSValue, done: JSValue) in
            // upTo: null (a tap: the whole thread) or a relay ts (a read on another device).
            let limit: Double? = upTo.isNumber ? upTo.toDouble() : nil
            self.ioQueue.async { self.finish(done, self.store.markThreadRead(queueId, upTo: limit).map { $0 as Any }) }
        } as @convention(block) (String, JSValue, JSValue) -> Void)
        set("storeThreadLastTs", { [unowned self] (queueId: String, done: JSValue) in
            self.ioQueue.async { self.finish(done, self.store.threadLastTs(queueId).map { $0.map { $0 as Any } ?? NSNull() }) }
        } as @convention(block) (String, JSValue) -> Void)
        set("storeClose", { [unowned self] (done: JSValue) in
            // Stop a statement running on the io queue at once (interrupt() reads the handle under the
            // store's lock); everything else — rollback, checkpoint, close — happens on the io queue, the
            // only queue that touches store.db.
            self.store.interrupt()
            self.ioQueue.async { self.finish(done, self.store.close().map { NSNull() as Any }) }
        } as @convention(block) (JSValue) -> Void)

        // pending inbox — async
        set("inboxAppend", { [unowned self] (m: [String: Any], done: JSValue) in
            self.ioQueue.async { self.finish(done, self.inbox.append(m).map { NSNull() as Any }) }
        } as @convention(block) ([String: Any], JSValue) -> Void)
        set("inboxMarkNotified", { [unowned self] (msgId: String, queueId: String, done: JSValue) in
            self.ioQueue.async { self.finish(done, self.inbox.markNotified(msgId, queueId: queueId).map { $0 as Any }) }
        } as @convention(block) (String, String, JSValue) -> Void)

        // transport — async (URLSession callbacks arrive on its delegate queue; finish() hops to jsQueue)
        set("transportGet", { [unowned self] (queueId: String, done: JSValue) in
            self.transport.get(queueId) { r in self.finish(done, r.map { $0.map { $0 as Any } ?? NSNull() }) }
        } as @convention(block) (String, JSValue) -> Void)
        set("transportAck", { [unowned self] (queueId: String, msgId: String, done: JSValue) in
            self.transport.ack(queueId, msgId) { r in self.finish(done, r.map { NSNull() as Any }) }
        } as @convention(block) (String, String, JSValue) -> Void)

        // the yield record — sync, cheap, never throws: written less than 10 s ago and not withdrawn.
        let yieldPath = self.yieldPath
        set("lockYieldPending", { () -> Bool in
            guard let d = FileManager.default.contents(atPath: yieldPath),
                  let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any], let ts = o["ts"] as? Double else { return false }
            return Date().timeIntervalSince1970 * 1000 - ts < 10_000
        } as @convention(block) () -> Bool)

        // what the core tells us — sync, never throw
        set("contentReady", { [unowned self] (requestId: String, result: [String: Any]) in
            self.onContentReady?(requestId, result)
        } as @convention(block) (String, [String: Any]) -> Void)
        set("phaseChanged", { [unowned self] (phase: String) in
            self.onPhase?(phase)
        } as @convention(block) (String) -> Void)

        if role == "app" { installAppFunctions(set) }
        return h
    }

    /// Free garbage after a request: the NSE lives in ~24 MB (docs/ios-porting.md, "NSE memory").
    func collectGarbage() {
        jsQueue.async { JSGarbageCollect(self.context.jsGlobalContextRef) }
    }
}

struct HostError: Error {
    let code: String      // one of ErrorCodes (host-contract.md)
    let message: String
}
