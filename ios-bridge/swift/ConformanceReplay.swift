// Replays ios-bridge/conformance/*.json against the bundle inside a JSContext
// (documentation code, e.g. as an XCTest). It is the Swift twin of runner.js:
// a scripted host answers every call with the transcript's reply, a virtual
// clock drives timers, and the recorded sequence must equal `expected`
// (log calls compared on t, level and tag). Run it on a device to prove that
// iOS's JavaScriptCore behaves like jsc/Node; then point the same steps at your
// real host services to compare the *shape* of their answers.

import Foundation
import JavaScriptCore

final class ConformanceReplay {
    private let ctx = JSContext()!
    private var expected: [[String: Any]] = []
    private var events: [[String: Any]] = []
    private var queue: [(at: Double, seq: Int, fire: () -> Void)] = []
    private var seq = 0, timerSeq = 0
    private var timers: [Int: JSValue] = [:]
    private let start = 1_800_000_000_000.0
    private var now = 1_800_000_000_000.0
    private(set) var mismatch: String?

    init(bundle: String) { ctx.evaluateScript(bundle) }

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

    /// The scripted host: sync calls return the transcript's `ret`, async ones answer with its `reply`.
    private func host() -> JSValue {
        let h = JSValue(newObjectIn: ctx)!
        func set(_ n: String, _ b: Any) { h.setObject(b, forKeyedSubscript: n as NSString) }
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
            let ret = self.expected[self.events.count]["ret"] as? String ?? ""
            self.emit(["fn": "randomHex", "args": [n], "ret": ret]); return ret
        } as @convention(block) (Int) -> String)
        // log, contentReady, phaseChanged and the async functions all record their JS arguments.
        for fn in ["log", "contentReady", "phaseChanged"] {
            set(fn, { [unowned self] () in
                let args = (JSContext.currentArguments() as? [JSValue] ?? []).map { $0.toObject() ?? NSNull() }
                self.emit(["fn": fn, "args": args])
            } as @convention(block) () -> Void)
        }
        for fn in ["lockAcquire", "lockRelease", "storePut", "storeMarkNotified", "storeClose", "inboxAppend",
                   "inboxMarkNotified", "inboxIsNotified", "inboxClaim", "inboxClaimDone", "transportGet", "transportAck"] {
            set(fn, { [unowned self] () in
                var args = JSContext.currentArguments() as? [JSValue] ?? []
                let done = args.removeLast()
                let reply = self.expected[self.events.count]["reply"] as? [String: Any] ?? [:]
                self.emit(["fn": fn, "args": args.map { $0.toObject() ?? NSNull() }, "reply": reply])
                self.schedule(after: reply["after"] as? Double ?? 0) {
                    if let err = reply["err"] { done.call(withArguments: [err]) }
                    else { done.call(withArguments: [NSNull(), reply["result"] ?? NSNull()]) }
                }
            } as @convention(block) () -> Void)
        }
        return h
    }

    /// Replays one transcript; returns nil on success, else the first divergence.
    func replay(_ t: [String: Any]) -> String? {
        expected = t["expected"] as? [[String: Any]] ?? []
        let core = ctx.objectForKeyedSubscript("NsekitCore").invokeMethod("createCore", withArguments: [host(), t["config"]!])!
        emit(["out": "createCore", "ok": true])
        for (i, s) in (t["steps"] as? [[String: Any]] ?? []).enumerated() {
            schedule(after: (s["at"] as? Double ?? 0) - (now - start)) { [unowned self] in
                let p = core.invokeMethod(s["call"] as! String, withArguments: s["args"] as? [Any] ?? [])!
                let ok: @convention(block) (JSValue) -> Void = { v in self.emit(["out": s["call"]!, "step": i, "ok": true, "value": v.toObject() ?? NSNull()]) }
                let fail: @convention(block) (JSValue) -> Void = { e in
                    self.emit(["out": s["call"]!, "step": i, "ok": false,
                               "error": ["code": e.forProperty("code").toString()!, "message": e.forProperty("message").toString()!]])
                }
                self.ctx.objectForKeyedSubscript("Promise").invokeMethod("resolve", withArguments: [p]).invokeMethod("then", withArguments: [ok, fail])
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
