// Replays ios-bridge/conformance/*.json against its bundle inside a JSContext
// (documentation code, e.g. as an XCTest). It is the Swift twin of runner.js's
// replay mode: each transcript gets a FRESH JSContext with the transcript's
// bundle (config.role: nsekit-nse.js or nsekit-app.js); a scripted host answers
// every call with the transcript's reply; a virtual clock drives timers; and the
// recorded sequence must equal `expected` (log calls compared on t, level and
// tag). It covers every transcript, NSE and app: host functions left out
// (world.hostOmit), a host call that throws (reply.throws), a host that calls
// back twice (reply.twice), the callbacks a reply causes later (reply.cb: SUB
// deliveries, a connection's end), the host's own steps (deliver, close) and the
// app's push-token functions. Run it on a device to prove iOS's JavaScriptCore
// behaves like jsc/Node; then point the same steps at your real host services to
// compare the *shape* of the answers.
//
// Why each event is ONE call into JS: JavaScriptCore runs pending promise jobs
// whenever the outermost API call returns. runner.js runs them only between
// events (its settle), so a Swift event made of two API calls — call a facade
// method, then attach `then`; call `done`, then call it again for `twice` —
// would let the core's continuations run in the middle and reorder the
// sequence. The small JS helpers below keep every event inside one call, and
// whatever the runner does synchronously after it (scheduling reply callbacks)
// is a Swift block the helper calls before returning.

import Foundation
import JavaScriptCore

final class ConformanceReplay {
    static let asyncFns = ["lockAcquire", "lockRelease", "storePut", "storeMarkNotified", "storeClose",
                           "storeUnreadCount", "storeIsRead", "storeMarkThreadRead", "storeThreadLastTs", "inboxAppend",
                           "inboxMarkNotified", "inboxIsNotified", "inboxClaim", "inboxClaimDone", "transportGet", "transportAck",
                           "storeGetCursor", "storeSetCursor", "outboxAdd", "outboxPending", "outboxMark", "transportConnect",
                           "transportSubscribe", "transportUnsubscribe", "transportSend", "transportPing", "statusGet",
                           "transportNsub", "transportNdel"]
    /// Sync host functions recorded as {fn, args} (no return value).
    static let recordOnly = ["log", "contentReady", "phaseChanged", "sessionEvent", "lockRequestYield", "lockWithdrawYield", "pushTokenSave"]
    static let maxEvents = 200_000

    /// runner.js's plain()/errOut() and the one-call-per-event wrappers, evaluated in each fresh context
    /// (an expression: it defines no global). Values cross as JSON text, as the transcripts hold them.
    private static let helperSource = """
    ({
      plain: function (v) {
        return v === undefined ? 'null' : JSON.stringify(v, function (_k, x) { return typeof x === 'function' ? undefined : x; }) || 'null';
      },
      errOut: function (e) {
        return JSON.stringify({ code: e && typeof e.code === 'string' ? e.code : 'UNCODED', message: String(e && e.message ? e.message : e) });
      },
      create: function (Core, host, configJson, out) {
        var c = null;
        try { c = Core.createCore(host, JSON.parse(configJson)); } catch (e) { out(false, this.errOut(e)); return null; }
        out(true, 'null');
        return c;
      },
      step: function (core, call, argsJson, ok, fail) {
        var self = this, p;
        try { p = core[call].apply(core, JSON.parse(argsJson)); } catch (e) { p = Promise.reject(e); }
        Promise.resolve(p).then(function (v) { ok(self.plain(v)); }, function (e) { fail(self.errOut(e)); });
      },
      answer: function (done, replyJson, after) {
        var r = JSON.parse(replyJson), err = r.err || null;
        done(err, err ? undefined : r.result);
        if (r.twice) done(err, err ? undefined : r.result);
        after();
      },
      invoke: function (f, argsJson) { f.apply(null, JSON.parse(argsJson)); }
    })
    """

    private let bundles: [String: String]            // role → bundle source
    private var ctx: JSContext!
    private var js: JSValue!                          // the helpers
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

    // JSON text ↔ Foundation values (the transcripts' own types: NSNumber booleans stay booleans).
    private func parse(_ json: String) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(json.utf8), options: [.fragmentsAllowed])) ?? NSNull()
    }
    private func json(_ v: Any) -> String {
        (try? JSONSerialization.data(withJSONObject: v, options: [.fragmentsAllowed])).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }
    /// As runner.js's plain(): functions dropped (null in arrays), undefined → null.
    private func plain(_ v: JSValue) -> Any { parse(js.invokeMethod("plain", withArguments: [v]).toString()) }
    /// The arguments of the running host block, plain, without a trailing `done`.
    private func currentArgs(droppingDone: Bool) -> (args: [JSValue], done: JSValue?) {
        var a = JSContext.currentArguments() as? [JSValue] ?? []
        let done = droppingDone && !a.isEmpty ? a.removeLast() : nil
        return (a, done)
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
                self.emit(["fn": fn, "args": self.currentArgs(droppingDone: false).args.map { self.plain($0) }])
            } as @convention(block) () -> Void)
        }
        for fn in Self.asyncFns {
            set(fn, { [unowned self] () in
                let (args, doneValue) = self.currentArgs(droppingDone: true)
                guard let done = doneValue else { return }
                if fn == "transportConnect", args.count >= 2 { self.onClose = args[0]; self.onEnd = args[1] }
                if fn == "transportSubscribe", args.count >= 2 { self.subs[args[0].toString()] = args[1] }
                if fn == "transportUnsubscribe", let q = args.first { self.subs[q.toString()] = nil }
                let x = self.current
                let reply = (x["fn"] as? String) == fn ? x["reply"] as? [String: Any] : nil
                let r = reply ?? ["err": ["code": "BRIDGE_HOST_ERROR", "message": "replay diverged"], "after": 1]
                self.emit(["fn": fn, "args": args.map { self.plain($0) }, "reply": r])
                if let t = r["throws"] { self.throwIntoJS(t); return }
                self.schedule(after: r["after"] as? Double ?? 0) { [unowned self] in
                    // done (twice if told) and the reply's later callbacks, scheduled in the same JS call.
                    let after: @convention(block) () -> Void = { [unowned self] in
                        for c in r["cb"] as? [[String: Any]] ?? [] {
                            self.schedule(after: c["after"] as? Double ?? 0) { [unowned self] in self.callback(c) }
                        }
                    }
                    self.js.invokeMethod("answer", withArguments: [done, self.json(r), after])
                }
            } as @convention(block) () -> Void)
        }
        return h
    }

    /// A callback the host makes on its own (reply.cb): to the subscription or connection it belongs to, if still there.
    private func callback(_ c: [String: Any]) {
        let name = c["cb"] as? String ?? ""
        let q = c["queueId"] as? String
        let target = name == "onMessage" ? q.flatMap { subs[$0] } : name == "onClose" ? onClose : name == "onEnd" ? onEnd : nil
        guard let f = target else { return }                 // unsubscribed / another connection meanwhile
        if name == "onClose" { onClose = nil; onEnd = nil }
        let args = c["args"] as? [Any] ?? []
        emit(q != nil ? ["cb": name, "queueId": q!, "args": args] : ["cb": name, "args": args])
        js.invokeMethod("invoke", withArguments: [f, json(args)])
    }

    /// A host step: "deliver" (the relay sends a message on a SUB — nothing unless subscribed; the message is
    /// the one `expected` records: runner.js seals the same one from the step's content) or "close" (the socket drops).
    private func hostStep(_ s: [String: Any]) {
        if s["host"] as? String == "deliver", let q = s["queueId"] as? String {
            guard let f = subs[q] else { return }
            let args = current["args"] as? [Any] ?? []
            emit(["cb": "onMessage", "queueId": q, "args": args])
            js.invokeMethod("invoke", withArguments: [f, json(args)])
        } else if s["host"] as? String == "close" {
            guard let f = onClose else { return }
            onClose = nil; onEnd = nil
            emit(["cb": "onClose", "args": []])
            js.invokeMethod("invoke", withArguments: [f, "[]"])
        }
    }

    /// Replays one transcript in a fresh context; returns nil on success, else the first divergence.
    func replay(_ t: [String: Any]) -> String? {
        let config = t["config"] as? [String: Any] ?? [:]
        let world = t["world"] as? [String: Any] ?? [:]
        ctx = JSContext()!                                   // bare: nothing but the language's builtins
        ctx.evaluateScript(bundles[(config["role"] as? String) == "app" ? "app" : "nse"]!)
        js = ctx.evaluateScript(Self.helperSource)
        expected = t["expected"] as? [[String: Any]] ?? []
        events = []; queue = []; seq = 0; timerSeq = 0; timers = [:]; subs = [:]; onClose = nil; onEnd = nil
        now = start; mismatch = nil
        var core: JSValue?
        // Steps first, as runner.js does: at equal times a step goes before what createCore schedules.
        for (i, s) in (t["steps"] as? [[String: Any]] ?? []).enumerated() {
            schedule(after: s["at"] as? Double ?? 0) { [unowned self] in
                if s["host"] != nil { return self.hostStep(s) }
                let call = s["call"] as? String ?? ""
                guard let core = core else {
                    return self.emit(["out": call, "step": i, "ok": false, "error": ["code": "NO_CORE", "message": "createCore failed"]])
                }
                let ok: @convention(block) (String) -> Void = { [unowned self] v in self.emit(["out": call, "step": i, "ok": true, "value": self.parse(v)]) }
                let fail: @convention(block) (String) -> Void = { [unowned self] e in self.emit(["out": call, "step": i, "ok": false, "error": self.parse(e)]) }
                self.js.invokeMethod("step", withArguments: [core, call, self.json(s["args"] ?? []), ok, fail])
            }
        }
        let out: @convention(block) (Bool, String) -> Void = { [unowned self] ok, e in
            self.emit(ok ? ["out": "createCore", "ok": true] : ["out": "createCore", "ok": false, "error": self.parse(e)])
        }
        let c = js.invokeMethod("create", withArguments: [ctx.objectForKeyedSubscript("NsekitCore")!,
                                                          host(omit: Set(world["hostOmit"] as? [String] ?? [])), json(config), out])
        core = (c?.isNull ?? true) ? nil : c
        // Each event is its own call into JS, so promise jobs drain between events (like runner.js's settle).
        var n = 0
        while mismatch == nil, n < Self.maxEvents, let next = queue.enumerated().min(by: { ($0.element.at, $0.element.seq) < ($1.element.at, $1.element.seq) }) {
            queue.remove(at: next.offset)
            n += 1
            now = max(now, next.element.at)
            next.element.fire()
        }
        if mismatch == nil && events.count != expected.count { mismatch = "ended after \(events.count) of \(expected.count) events" }
        return mismatch
    }
}
