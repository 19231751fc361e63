// Replays ios-bridge/conformance/*.json against its bundle inside a JSContext
// (documentation code, e.g. as an XCTest). It is the Swift twin of runner.js's
// replay mode: each transcript gets a FRESH JSContext with the transcript's
// bundle (config.role: nsekit-nse.js or nsekit-app.js); a scripted host answers
// every call with the transcript's reply; a virtual clock drives timers; and the
// recorded sequence must equal `expected` (log calls compared on t, level and
// tag). It covers every transcript: host functions left out (world.hostOmit),
// a host call that throws (reply.throws), a host that calls back twice
// (reply.twice), the callbacks a reply causes later (reply.cb: SUB deliveries,
// a connection's end) and the host's own steps (deliver, close). Run it on a
// device to prove iOS's JavaScriptCore behaves like jsc/Node; then point the
// same steps at your real host services to compare the *shape* of the answers.

import Foundation
import JavaScriptCore

final class ConformanceReplay {
    static let asyncFns = ["lockAcquire", "lockRelease", "storePut", "storeMarkNotified", "storeClose", "inboxAppend",
                           "inboxMarkNotified", "inboxIsNotified", "inboxClaim", "inboxClaimDone", "transportGet", "transportAck",
                           "storeGetCursor", "storeSetCursor", "outboxAdd", "outboxPending", "outboxMark", "transportConnect",
                           "transportSubscribe", "transportUnsubscribe", "transportSend", "transportPing", "statusGet"]
    static let recordOnly = ["log", "contentReady", "phaseChanged", "sessionEvent", "lockRequestYield", "lockWithdrawYield"]

    private let bundles: [String: String]            // role → bundle source
    private var ctx: JSContext!
    private var expected: [[String: Any]] = []
    private var events: [[String: Any]] = []
    private var queue: [(at: Double, seq: Int, fire: () -> Void)] = []
    private var seq = 0, timerSeq = 0
    private var timers: [Int: JSValue] = [:]
    private var onClose: JSValue?, onEnd: JSValue?   // the connection's callbacks (transportConnect)
    private var subs: [String: JSValue] = [:]        // queueId → onMessage (transportSubscribe)
    private let start = 1_800_000_000_000.0
    private var now = 1_800_000_000_000.0
    private(set) var mismatch: String?

    init(nseBundle: String, appBundle: String) { bundles = ["nse": nseBundle, "app": appBundle] }

    private func emit(_ ev: [String: Any]) {
        var e = ev
        e["t"] = now - start
        let i = events.count
        events.append(e)
        guard mismatch == nil else { return }
        guard i < expected.count else { mismatch = "extra event \(i): \(e)"; return }
        let x = expected[i]
        let same: Bool
        if (x["fn"] as? String) == "log", (e["fn"] as? String) == "log", let xa = x["args"] as? [Any], let ea = e["args"] as? [Any] {
            same = (x["t"] as? Double) == (e["t"] as? Double) && "\(xa[0])" == "\(ea[0])" && "\(xa[1])" == "\(ea[1])"
        } else {
            same = NSDictionary(dictionary: x).isEqual(to: e)
        }
        if !same { mismatch = "event \(i): expected \(x), got \(e)" }
    }

    private func schedule(after ms: Double, _ fire: @escaping () -> Void) {
        seq += 1
        queue.append((now + ms, seq, fire))
    }

    /// As runner.js's plain(): functions become null, undefined becomes null.
    private func plain(_ v: JSValue) -> Any {
        if v.isUndefined || v.isNull { return NSNull() }
        if v.isInstance(of: ctx.objectForKeyedSubscript("Function")) { return NSNull() }
        return v.toObject() ?? NSNull()
    }

    /// The expected entry for the call being made now (what the transcript says the host answers).
    private var current: [String: Any] { events.count < expected.count ? expected[events.count] : [:] }

    /// Throw `value` into the JS caller of the running host block (JSC rethrows a context exception set there).
    private func throwIntoJS(_ value: Any) { ctx.exception = JSValue(object: value, in: ctx) }

    /// The scripted host: sync calls return the transcript's `ret`, async ones answer with its `reply`.
    private func host(omit: Set<String>) -> JSValue {
        let h = JSValue(newObjectIn: ctx)!
        func set(_ n: String, _ b: Any) { if !omit.contains(n) { h.setObject(b, forKeyedSubscript: n as NSString) } }
        set("now", { [unowned self] () -> Double in self.emit(["fn": "now", "args": [], "ret": self.now]); return self.now } as @convention(block) () -> Double)
        set("setTimer", { [unowned self] (ms: Double, fire: JSValue) -> Int in
            self.timerSeq += 1; let id = self.timerSeq
            self.emit(["fn": "setTimer", "args": [ms], "ret": id])
            self.timers[id] = fire
            self.schedule(after: ms) { [unowned self] in
                guard let f = self.timers.removeValue(forKey: id) else { return }
                self.emit(["timer": id]); f.call(withArguments: [])
            }
            return id
        } as @convention(block) (Double, JSValue) -> Int)
        set("clearTimer", { [unowned self] (id: Int) in self.emit(["fn": "clearTimer", "args": [id]]); self.timers[id] = nil } as @convention(block) (Int) -> Void)
        set("randomHex", { [unowned self] (n: Int) -> String in
            let ret = self.current["ret"] as? String ?? ""
            self.emit(["fn": "randomHex", "args": [n], "ret": ret]); return ret
        } as @convention(block) (Int) -> String)
        set("lockYieldPending", { [unowned self] () -> Any in
            let x = self.current
            if let t = x["throws"] { self.emit(["fn": "lockYieldPending", "args": [], "throws": t]); self.throwIntoJS(t); return NSNull() }
            let ret = x["ret"] ?? NSNull()
            self.emit(["fn": "lockYieldPending", "args": [], "ret": ret]); return ret
        } as @convention(block) () -> Any)
        for fn in Self.recordOnly {
            set(fn, { [unowned self] () in
                let args = (JSContext.currentArguments() as? [JSValue] ?? []).map { self.plain($0) }
                self.emit(["fn": fn, "args": args])
            } as @convention(block) () -> Void)
        }
        for fn in Self.asyncFns {
            set(fn, { [unowned self] () in
                var args = JSContext.currentArguments() as? [JSValue] ?? []
                let done = args.removeLast()
                if fn == "transportConnect", args.count >= 2 { self.onClose = args[0]; self.onEnd = args[1] }
                if fn == "transportSubscribe", args.count >= 2 { self.subs[args[0].toString()] = args[1] }
                if fn == "transportUnsubscribe", let q = args.first { self.subs[q.toString()] = nil }
                let reply = self.current["reply"] as? [String: Any] ?? ["err": ["code": "BRIDGE_HOST_ERROR", "message": "replay diverged"], "after": 1]
                self.emit(["fn": fn, "args": args.map { self.plain($0) }, "reply": reply])
                if let t = reply["throws"] { self.throwIntoJS(t); return }
                self.schedule(after: reply["after"] as? Double ?? 0) { [unowned self] in
                    let answer: [Any] = reply["err"].map { [$0] } ?? [NSNull(), reply["result"] ?? NSNull()]
                    done.call(withArguments: answer)
                    if reply["twice"] as? Bool == true { done.call(withArguments: answer) }   // the core must ignore it (and log)
                    for c in reply["cb"] as? [[String: Any]] ?? [] {
                        self.schedule(after: c["after"] as? Double ?? 0) { [unowned self] in self.callback(c) }
                    }
                }
            } as @convention(block) () -> Void)
        }
        return h
    }

    /// A callback the host makes on its own (reply.cb): to the subscription or connection it belongs to, if still there.
    private func callback(_ c: [String: Any]) {
        let name = c["cb"] as? String ?? ""
        let q = c["queueId"] as? String
        let target = name == "onMessage" ? q.flatMap { subs[$0] } : name == "onClose" ? onClose : onEnd
        guard let f = target else { return }                 // unsubscribed / another connection meanwhile
        if name == "onClose" { onClose = nil; onEnd = nil }
        let args = c["args"] as? [Any] ?? []
        emit(q != nil ? ["cb": name, "queueId": q!, "args": args] : ["cb": name, "args": args])
        f.call(withArguments: args)
    }

    /// A host step: 'deliver' (the relay sends a message on a SUB: the message is the one `expected` records), 'close'.
    private func hostStep(_ s: [String: Any]) {
        if s["host"] as? String == "deliver", let q = s["queueId"] as? String {
            guard let f = subs[q] else { return }
            let args = current["args"] as? [Any] ?? []
            emit(["cb": "onMessage", "queueId": q, "args": args])
            f.call(withArguments: args)
        } else if s["host"] as? String == "close" {
            guard let f = onClose else { return }
            onClose = nil; onEnd = nil
            emit(["cb": "onClose", "args": []])
            f.call(withArguments: [])
        }
    }

    private func errorOut(_ e: JSValue?) -> [String: Any] {
        let code = e?.forProperty("code")
        return ["code": (code?.isString ?? false) ? code!.toString()! : "UNCODED", "message": e?.forProperty("message")?.toString() ?? "\(String(describing: e))"]
    }

    /// Replays one transcript in a fresh context; returns nil on success, else the first divergence.
    func replay(_ t: [String: Any]) -> String? {
        let config = t["config"] as? [String: Any] ?? [:]
        let world = t["world"] as? [String: Any] ?? [:]
        ctx = JSContext()!                                   // bare: nothing but the language's builtins
        ctx.evaluateScript(bundles[(config["role"] as? String) == "app" ? "app" : "nse"]!)
        expected = t["expected"] as? [[String: Any]] ?? []
        events = []; queue = []; seq = 0; timerSeq = 0; timers = [:]; subs = [:]; onClose = nil; onEnd = nil
        now = start; mismatch = nil
        ctx.exception = nil
        let core = ctx.objectForKeyedSubscript("NsekitCore").invokeMethod("createCore",
            withArguments: [host(omit: Set(world["hostOmit"] as? [String] ?? [])), config])
        let created = ctx.exception == nil
        if created { emit(["out": "createCore", "ok": true]) } else { emit(["out": "createCore", "ok": false, "error": errorOut(ctx.exception)]) }
        ctx.exception = nil
        for (i, s) in (t["steps"] as? [[String: Any]] ?? []).enumerated() {
            schedule(after: (s["at"] as? Double ?? 0) - (now - start)) { [unowned self] in
                if s["host"] != nil { return self.hostStep(s) }
                let call = s["call"] as? String ?? ""
                guard created, let core = core else {
                    return self.emit(["out": call, "step": i, "ok": false, "error": ["code": "NO_CORE", "message": "createCore failed"]])
                }
                let ok: @convention(block) (JSValue) -> Void = { v in self.emit(["out": call, "step": i, "ok": true, "value": self.plain(v)]) }
                let fail: @convention(block) (JSValue) -> Void = { e in self.emit(["out": call, "step": i, "ok": false, "error": self.errorOut(e)]) }
                self.ctx.exception = nil
                var p = core.invokeMethod(call, withArguments: s["args"] as? [Any] ?? [])
                if let e = self.ctx.exception {                 // a synchronous throw is a rejection, as in runner.js
                    self.ctx.exception = nil
                    p = self.ctx.objectForKeyedSubscript("Promise").invokeMethod("reject", withArguments: [e])
                }
                self.ctx.objectForKeyedSubscript("Promise").invokeMethod("resolve", withArguments: [p as Any]).invokeMethod("then", withArguments: [ok, fail])
            }
        }
        // Each event is its own call into JS, so promise jobs drain between events (like runner.js's settle).
        while mismatch == nil, let next = queue.enumerated().min(by: { ($0.element.at, $0.element.seq) < ($1.element.at, $1.element.seq) }) {
            queue.remove(at: next.offset)
            now = max(now, next.element.at)
            next.element.fire()
        }
        if mismatch == nil && events.count != expected.count { mismatch = "ended after \(events.count) of \(expected.count) events" }
        return mismatch
    }
}
