/*
 * Conformance runner for the nsekit bridge. Plain JavaScript that runs in a
 * bare JavaScriptCore (`jsc`) and in Node (inside a `vm` context, so the core
 * sees no Node globals there either).
 *
 * A transcript is { name, description, config, world, steps, expected }, for
 * the bundle of its config.role (nsekit-nse.js or nsekit-app.js).
 *   steps:    facade calls at virtual times: { at, call, args }, and what the
 *             host does on its own: { at, host: 'deliver', queueId, msgId,
 *             content } (a SUB delivery; with ts, notification and body
 *             instead of content: a recorded one) or { at, host: 'close' }
 *   world:    the model host a recording runs against (queues, inbox, faults,
 *             delays, appInFront intervals for lockYieldPending; closeAfterMs /
 *             endAfterMs: each connection closes / each SUB is ENDed that long
 *             after its reply)
 *   expected: every host call the core made, in order, with the host's reply
 *             (a reply's `cb` lists the host callbacks it causes later: the
 *             relay's next SUB delivery, a connection's end), interleaved
 *             with timer firings, host callbacks and the facade's outputs.
 * Record mode answers host calls from the model and writes `expected`;
 * replay mode answers them from `expected` and fails at the first call that
 * differs. Time is virtual: the runner's clock drives every timer, so jsc and
 * Node produce the same sequence.
 *
 *   jsc:  jsc ios-bridge/conformance/runner.js -- <bundle.js> <transcript.json>...   (one role's transcripts)
 *   node: see ios-bridge/conformance/node-runner.ts (record: --record)
 */
(function nsekitConformance(global) {
  'use strict';

  var START_MS = 1800000000000;
  var FLUSH_ROUNDS = 64;
  var MAX_EVENTS = 200000;
  var ASYNC_FNS = ['lockAcquire', 'lockRelease', 'storePut', 'storeMarkNotified', 'storeClose', 'storeUnreadCount', 'storeIsRead', 'storeMarkThreadRead', 'storeThreadLastTs', 'inboxAppend', 'inboxMarkNotified', 'inboxIsNotified', 'inboxClaim', 'inboxClaimDone', 'transportGet', 'transportAck',
    // the app's
    'storeGetCursor', 'storeSetCursor', 'outboxAdd', 'outboxPending', 'outboxMark', 'transportConnect', 'transportSubscribe', 'transportUnsubscribe', 'transportSend', 'transportPing', 'statusGet',
    // the app's, with config.pushToken
    'transportNsub', 'transportNdel'];
  /** Sync host functions without a return value (recorded as {fn, args}). */
  var VOID_FNS = ['lockRequestYield', 'lockWithdrawYield'];

  /**
   * Let every pending promise job run before the next event. A macrotask
   * boundary drains the microtask queue completely: the jsc shell's setTimeout
   * (the harness's, never the core's) or Node's setImmediate passed in as
   * opts.settle. Without either, FLUSH_ROUNDS chained jobs.
   */
  function defaultSettle() {
    if (typeof setTimeout === 'function') return new Promise(function (r) { setTimeout(r, 0); });
    var p = Promise.resolve();
    for (var i = 0; i < FLUSH_ROUNDS; i++) p = p.then(function () {});
    return p;
  }

  /**
   * Make the realm whose global is `g` bare, as a JSContext on the iOS floor (15.4) is: delete
   * what a host adds (the jsc shell's print/setTimeout/atob/load/$262/…, V8's console in a Node vm
   * context) and every builtin that shipped in Safari/JavaScriptCore after iOS 15.4 — so a
   * feature-detecting library (noble checks Uint8Array#toHex) takes the path iOS 15.4 takes, and
   * code that needs a newer builtin fails here as it would on a device. Self-contained: it is
   * evaluated in the fresh realm as a string (bareRealmSource). Returns what it removed.
   */
  function bareRealm(g) {
    var HOST_EXTRAS = ['print', 'printErr', 'debug', 'console', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval',
      'queueMicrotask', 'structuredClone', 'atob', 'btoa', 'load', 'loadString', 'readFile', 'readline', 'read', 'writeFile',
      'write', 'openFile', 'run', 'runString', 'quit', 'gc', 'fullGC', 'edenGC', 'arguments', 'scriptArgs', 'performance',
      'preciseTime', 'sleepSeconds', 'describe', 'describeArray', 'jscStack', 'jscOptions', 'createGlobalObject', '$262', '$vm',
      '$', 'agent', 'Worker', 'drainMicrotasks', 'setUnhandledRejectionCallback', 'checkSyntax', 'checkScriptSyntax',
      'checkModuleSyntax', 'callerSourceOrigin', 'releaseWeakRefs', 'finalizationRegistryLiveCount',
      'finalizationRegistryDeadCount', 'generateHeapSnapshot', 'generateHeapSnapshotForGCDebugging', 'resetMemoryPeak',
      'memoryUsageStatistics', 'MemoryFootprint', 'gcHeapSize', 'heapCapacity', 'addressOf', 'noInline', 'noDFG', 'noFTL',
      'neverInlineFunction', 'numberOfDFGCompiles', 'optimizeNextInvocation', 'reoptimizationRetryCount', 'isRope',
      'isInt32', 'isPureNaN', 'isBigInt32', 'isHeapBigInt', 'useBigInt32', 'createHeapBigInt', 'fiatInt52', 'predictInt32',
      'asDoubleNumber', 'effectful42', 'makeMasquerader', 'hasCustomProperties', 'ensureArrayStorage', 'failNextNewCodeBlock',
      'totalCompileTime', 'testLoopCount', 'wasmTestLoopCount', 'maxArguments', 'is32BitPlatform', 'isFinalTier',
      'callerIsBBQOrOMGCompiled', 'platformSupportsSamplingProfiler', 'startSamplingProfiler', 'samplingProfilerStackTraces',
      'getRandomSeed', 'setRandomSeed', 'transferArrayBuffer', 'waiterListSize', 'waitForReport', 'flashHeapAccess',
      'disableRichSourceInfo', 'disassembleBase64', 'dumpTypesForAllVariables', 'mallocInALoop', 'dropAllLocks',
      'createNonRopeNonAtomString', 'createWebAssemblyMemoryWithMode', 'WebAssemblyMemoryMode', 'asyncTestStart',
      'asyncTestPassed', 'resetSuperSamplerState', 'prettyPrint', 'noOSRExitFuzzing', 'OSRExit', 'version'];
    // [owner, property]: shipped after iOS 15.4 (Safari 16.0 … 18.x).
    var TA = Object.getPrototypeOf(Int8Array.prototype);
    var AFTER_FLOOR = [
      [Array.prototype, 'toSorted'], [Array.prototype, 'toReversed'], [Array.prototype, 'toSpliced'], [Array.prototype, 'with'],
      [TA, 'toSorted'], [TA, 'toReversed'], [TA, 'with'], [Array, 'fromAsync'],
      [Object, 'groupBy'], [Map, 'groupBy'], [Promise, 'withResolvers'], [Promise, 'try'],
      [String.prototype, 'isWellFormed'], [String.prototype, 'toWellFormed'],
      [ArrayBuffer.prototype, 'transfer'], [ArrayBuffer.prototype, 'transferToFixedLength'], [ArrayBuffer.prototype, 'detached'],
      [ArrayBuffer.prototype, 'resize'], [ArrayBuffer.prototype, 'resizable'], [ArrayBuffer.prototype, 'maxByteLength'],
      [Atomics, 'waitAsync'], [Atomics, 'pause'],
      [Set.prototype, 'union'], [Set.prototype, 'intersection'], [Set.prototype, 'difference'], [Set.prototype, 'symmetricDifference'],
      [Set.prototype, 'isSubsetOf'], [Set.prototype, 'isSupersetOf'], [Set.prototype, 'isDisjointFrom'],
      [g, 'Iterator'], [g, 'Float16Array'], [Math, 'f16round'], [Math, 'sumPrecise'], [RegExp, 'escape'],
      [Uint8Array, 'fromBase64'], [Uint8Array, 'fromHex'], [Uint8Array.prototype, 'toBase64'], [Uint8Array.prototype, 'toHex'],
      [Uint8Array.prototype, 'setFromBase64'], [Uint8Array.prototype, 'setFromHex'],
      [JSON, 'rawJSON'], [JSON, 'isRawJSON'], [Error, 'isError'], [Error, 'captureStackTrace'],
      [g, 'DisposableStack'], [g, 'AsyncDisposableStack'], [g, 'SuppressedError'], [Symbol, 'dispose'], [Symbol, 'asyncDispose'],
    ];
    if (typeof SharedArrayBuffer === 'function') AFTER_FLOOR.push([SharedArrayBuffer.prototype, 'grow'], [SharedArrayBuffer.prototype, 'growable'], [SharedArrayBuffer.prototype, 'maxByteLength']);
    var removed = [];
    HOST_EXTRAS.forEach(function (n) {
      if (!(n in g)) return;
      try { delete g[n]; } catch (e) { /* reported below */ }
      removed.push(n in g ? n + ' (NOT REMOVED)' : n);
    });
    AFTER_FLOOR.forEach(function (p) {
      if (!(p[1] in p[0])) return;
      try { delete p[0][p[1]]; } catch (e) { /* reported below */ }
      removed.push(p[1] in p[0] ? String(p[1]) + ' (NOT REMOVED)' : String(p[1]));
    });
    return removed;
  }

  /** JSON-safe copy: functions dropped, undefined -> null. */
  function plain(v) {
    if (v === undefined) return null;
    return JSON.parse(JSON.stringify(v, function (_k, x) { return typeof x === 'function' ? undefined : x; }) || 'null');
  }

  function errOut(e) {
    return { code: e && typeof e.code === 'string' ? e.code : 'UNCODED', message: String(e && e.message ? e.message : e) };
  }

  /**
   * Log text is diagnostic, not contract: a log call matches on time, level and
   * tag (a message reworded in the core does not invalidate every transcript).
   * Every other entry must match exactly.
   */
  function sameCall(exp, ev, json) {
    if (exp.fn === 'log' && ev.fn === 'log') {
      return exp.t === ev.t && exp.args[0] === ev.args[0] && exp.args[1] === ev.args[1];
    }
    return JSON.stringify(exp) === json;
  }

  /** FNV-1a over the exact event JSON: jsc and Node must agree on it byte for byte. */
  function fnv1a(h, str) {
    for (var i = 0; i < str.length; i++) {
      h ^= str.charCodeAt(i);
      h = Math.imul(h, 16777619) >>> 0;
    }
    return h;
  }

  /** Deterministic hex bytes for the model's randomHex (xorshift32, seeded). */
  function Prng(seed) {
    var s = seed >>> 0 || 1;
    this.hex = function (n) {
      var out = '';
      for (var i = 0; i < n; i++) {
        s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
        var b = s & 255;
        out += (b < 16 ? '0' : '') + b.toString(16);
      }
      return out;
    };
  }

  /** The model host: SMP-like relay queues, an idempotent store, a generation-counting lock. */
  function Model(Core, t) {
    var w = t.world || {};
    var rng = new Prng(w.seed || 7);
    var self = this;
    this.queues = {};
    /** msgId -> {q, ts, n (notification flag), read}: the rows' read state, never their bodies. */
    this.stored = {};
    /** msgIds in insertion order (the store's rowid order: storeMarkThreadRead answers in it). */
    this.order = [];
    this.notified = {};
    this.inbox = [];
    this.claims = {};
    var claimSeq = 0;
    this.lock = { held: false, generation: w.lockGeneration || 0 };
    this.cursors = {};
    this.outbox = [];
    this.sent = {};
    /** queueId -> msgId delivered by SUB and not ACKed yet ('' = none): the relay sends the next after the ACK. */
    this.subs = {};
    /** queueId -> the push token registered with NSUB (NDEL drops it). */
    this.tokens = {};
    this.yieldRequested = false;
    this.closed = true;
    var seq = 0;
    Object.keys(w.queues || {}).forEach(function (q) {
      self.queues[q] = (w.queues[q] || []).map(function (m) {
        seq++;
        var body = m.body;
        if (m.content) {
          // m.key: the sender used another key (tampering / unknown-key cases).
          var key = m.key || (t.config.queueKeys || {})[q];
          body = Core.sealE2eBody(key, q, m.content, new Prng(1000 + seq).hex(24));
        }
        return { msgId: m.msgId, queueId: q, ts: m.ts || 1000 + seq, notification: m.notification !== false, body: body };
      });
    });
    // world.inbox: lines already in the pending inbox: records (bodies sealed like queue messages)
    // and `notified` markers ({msgId, queueId, notified: true}, `carried: true` when an import carried it).
    // `{torn: "…"}`: a fragment a crashed appender left as the file's last line (no newline).
    (w.inbox || []).forEach(function (m) {
      if (m.torn !== undefined) { self.inbox.push({ torn: String(m.torn) }); return; }
      if (m.notified) { self.inbox.push(m.carried ? { msgId: m.msgId, queueId: m.queueId, notified: true, carried: true } : { msgId: m.msgId, queueId: m.queueId, notified: true }); return; }
      seq++;
      var key = m.key || (t.config.queueKeys || {})[m.queueId];
      var body = m.content ? Core.sealE2eBody(key, m.queueId, m.content, new Prng(1000 + seq).hex(24)) : m.sealed;
      self.inbox.push({ msgId: m.msgId, queueId: m.queueId, ts: m.ts || 1000 + seq, notification: m.notification !== false, sealed: body });
    });
    // Host steps that deliver a message on a subscription (a relay MSG arriving later): sealed like the queues',
    // or, with `body` (a delivery recorded from the simulator), the message exactly as the relay sent it.
    this.arrivals = (t.steps || []).map(function (st) {
      if (st.host !== 'deliver') return null;
      if (typeof st.body === 'string') return { msgId: st.msgId, queueId: st.queueId, ts: st.ts, notification: st.notification !== false, body: st.body };
      seq++;
      var key = st.key || (t.config.queueKeys || {})[st.queueId];
      return { msgId: st.msgId, queueId: st.queueId, ts: st.ts || 1000 + seq, notification: st.notification !== false, body: Core.sealE2eBody(key, st.queueId, st.content, new Prng(1000 + seq).hex(24)) };
    });
    this.randomHex = function (n) { return rng.hex(n); };
    /** world.appInFront: [[from, to], …] virtual times (ms) when the app's yield request is active. */
    this.yieldPending = function (t) {
      return (w.appInFront || []).some(function (r) { return t >= r[0] && t < r[1]; });
    };
    function err(code, message) { return { err: { code: code, message: message } }; }
    /**
     * Append a line to the live file as a host must (host-setup.md §4): a torn fragment at the end gets
     * a newline first, so it becomes a complete bad line instead of swallowing the new one.
     */
    function appendLine(l) {
      var last = self.inbox[self.inbox.length - 1];
      if (last && last.torn !== undefined) self.inbox[self.inbox.length - 1] = { bad: last.torn };
      self.inbox.push(l);
    }
    /** A marker line (own or carried) for msgId in the live file or an unfinished claim. */
    function marked(msgId) {
      var files = [self.inbox].concat(Object.keys(self.claims).map(function (c) { return self.claims[c]; }));
      return files.some(function (f) { return f.some(function (l) { return l.notified && l.msgId === msgId; }); });
    }
    /**
     * Carry the claim's own markers into the live file as carried lines (once per id), before the
     * claim is answered and so before inboxClaimDone can delete it: a locked process still sees them
     * for one more import cycle. Re-claiming an unfinished claim carries again (ids the live file
     * already has are skipped); carried lines are not carried a second time.
     */
    function carry(id) {
      self.claims[id].forEach(function (l) {
        if (!l.notified || l.carried) return;
        if (self.inbox.some(function (x) { return x.notified && x.msgId === l.msgId; })) return;
        appendLine({ msgId: l.msgId, queueId: l.queueId, notified: true, carried: true });
      });
    }
    /** A claim as inboxClaim answers it: record lines and marker lines (own and carried) apart. */
    function claimOf(id) {
      var lines = self.claims[id];
      var last = lines[lines.length - 1];
      return {
        claimId: id,
        records: lines.filter(function (l) { return !l.notified && l.torn === undefined && l.bad === undefined; }),
        notified: lines.filter(function (l) { return l.notified; }).map(function (l) { return l.msgId; }),
        torn: last && last.torn !== undefined ? 1 : 0,
        bad: lines.filter(function (l) { return l.bad !== undefined; }).length,
      };
    }
    /** The SUB delivery the relay makes next on queue q (at most one un-ACKed), as reply callbacks. */
    this.nextDelivery = function (q) {
      var msgs = self.queues[q] || [];
      if (self.subs[q] !== '' || !msgs.length) return undefined;
      self.subs[q] = msgs[0].msgId;
      return [{ cb: 'onMessage', queueId: q, after: w.deliverAfterMs || 2, args: [msgs[0]] }];
    };
    this.answer = function (fn, args) {
      switch (fn) {
        case 'transportGet': { var q = self.queues[args[0]]; return { result: q && q.length ? q[0] : null }; }
        case 'transportAck': {
          var qa = self.queues[args[0]] || [];
          for (var i = 0; i < qa.length; i++) {
            if (qa[i].msgId !== args[1]) continue;
            qa.splice(i, 1);
            // Subscribed: the ACK of the delivered message lets the relay send the next one.
            if (self.subs[args[0]] === args[1]) { self.subs[args[0]] = ''; return { result: null, cb: self.nextDelivery(args[0]) }; }
            return { result: null };
          }
          return err('PROTO_NO_MSG', 'no such message');
        }
        case 'lockAcquire':
          if (self.lock.held) return err('LOCK_TIMEOUT', 'lock held');
          self.lock.held = true;
          return { result: { generation: self.lock.generation, dirty: false } };
        case 'lockRelease':
          if (!self.lock.held) return err('LOCK_NOT_HELD', 'not held');
          self.lock.held = false;
          if (args[0]) self.lock.generation++;
          return { result: null };
        case 'storePut':
          self.closed = false;
          if (self.stored[args[0].msgId]) return { result: false };
          // No copy of the record's body (the bench's script holds this model): what the read state reads.
          self.stored[args[0].msgId] = { q: args[0].queueId, ts: args[0].ts, n: args[0].notification === true, read: false };
          self.order.push(args[0].msgId);
          return { result: true };
        case 'storeMarkNotified':
          self.closed = false;
          if (self.notified[args[0]]) return { result: false };
          self.notified[args[0]] = true;
          return { result: true };
        case 'storeClose': self.closed = true; return { result: null };
        // The read state (host-contract.md "Read state"), as the store's SQL: unread = flagged and not read.
        case 'storeUnreadCount':
          return { result: self.order.filter(function (id) { var r = self.stored[id]; return r.n && !r.read; }).length };
        case 'storeIsRead': return { result: !!(self.stored[args[0]] && self.stored[args[0]].read) };
        case 'storeMarkThreadRead': {
          self.closed = false;
          var became = self.order.filter(function (id) {
            var r = self.stored[id];
            return r.q === args[0] && !r.read && (args[1] === null || r.ts <= args[1]);
          });
          became.forEach(function (id) { self.stored[id].read = true; });
          return { result: became };
        }
        case 'storeThreadLastTs': {
          var last = null;
          self.order.forEach(function (id) { var r = self.stored[id]; if (r.q === args[0] && (last === null || r.ts > last)) last = r.ts; });
          return { result: last };
        }
        case 'inboxAppend': appendLine(args[0]); return { result: null };
        case 'inboxMarkNotified':
          if (marked(args[0])) return { result: false };
          appendLine({ msgId: args[0], queueId: args[1], notified: true });
          return { result: true };
        case 'inboxIsNotified': return { result: marked(args[0]) };
        case 'inboxClaim': {
          // An unfinished claim first (as after a crash); else claim the whole file.
          var open = Object.keys(self.claims)[0];
          if (open) { carry(open); return { result: claimOf(open) }; }
          if (!self.inbox.length) return { result: null };
          var id = 'claim' + (++claimSeq);
          self.claims[id] = self.inbox;
          self.inbox = [];
          carry(id);
          return { result: claimOf(id) };
        }
        case 'inboxClaimDone':
          if (!self.claims[args[0]]) return err('INBOX_IO', 'no such claim');
          delete self.claims[args[0]];
          return { result: null };
        case 'storeGetCursor': return { result: self.cursors[args[0]] || { lastMsgId: null, lastTs: 0 } };
        case 'storeSetCursor': self.cursors[args[0]] = args[1]; return { result: null };
        case 'outboxAdd':
          if (self.outbox.some(function (o) { return o.clientId === args[0].clientId; })) return { result: false };
          self.outbox.push({ clientId: args[0].clientId, queueId: args[0].queueId, body: args[0].body, state: 'pending', attempts: 0, updatedAt: 0 });
          return { result: true };
        case 'outboxPending': return { result: self.outbox.filter(function (o) { return o.state !== 'sent'; }) };
        case 'outboxMark':
          self.outbox.forEach(function (o) { if (o.clientId === args[0]) { o.state = args[1]; if (args[1] === 'sending') o.attempts++; } });
          return { result: null };
        case 'transportConnect':
          return w.closeAfterMs ? { result: null, cb: [{ cb: 'onClose', after: w.closeAfterMs, args: [] }] } : { result: null };
        case 'transportSubscribe': {
          self.subs[args[0]] = '';
          var subCbs = self.nextDelivery(args[0]) || [];
          // world.endAfterMs: another connection takes the queue (the relay's END {queueId}).
          if (w.endAfterMs) subCbs.push({ cb: 'onEnd', after: w.endAfterMs, args: [args[0]] });
          return { result: null, cb: subCbs.length ? subCbs : undefined };
        }
        case 'transportUnsubscribe': delete self.subs[args[0]]; return { result: null };
        case 'transportSend': {
          var dup = !!self.sent[args[3]];
          if (!dup) self.sent[args[3]] = 's' + (Object.keys(self.sent).length + 1);
          return { result: { msgId: self.sent[args[3]], duplicate: dup } };
        }
        case 'transportPing': return { result: null };
        // NSUB keeps a queue's notifier id and key (docs/protocol.md): the same answer every time.
        case 'transportNsub': self.tokens[args[0]] = args[1]; return { result: { notifierId: 'nid-' + args[0], notifierKey: 'AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=' } };
        case 'transportNdel': delete self.tokens[args[0]]; return { result: null };
        case 'statusGet': {
          var m = /[?&]id=([^&]*)/.exec(args[0]);
          var sq = m ? self.queues[decodeURIComponent(m[1])] : null;
          return { result: { status: 200, body: { has_payload: !!(sq && sq.length) } } };
        }
      }
      return err('BRIDGE_HOST_ERROR', 'model has no ' + fn);
    };
  }

  /**
   * Run one transcript. opts: { record: bool, keepCalls: bool (default true),
   *   onOutput(step): called after each facade call settled (the bench runs the GC there, as a host would) }.
   * Resolves { name, ok, events, mismatch } where mismatch describes the first divergence.
   */
  function run(Core, t, opts) {
    opts = opts || {};
    var record = !!opts.record;
    var keep = opts.keepCalls !== false;
    var expected = record ? null : t.expected || [];
    var events = [];
    var mismatch = null;
    var now = START_MS;
    var seq = 0;
    var timerSeq = 0;
    var queue = []; // {at, seq, kind, ...}, kept sorted by (at, seq): the next event is queue[0]
    var timers = {};
    var faults = ((t.world || {}).faults || []).map(function (f) { return { f: f, seen: 0 }; });
    var delays = (t.world || {}).delays || {};
    var model = new Model(Core, t);
    var omit = (t.world || {}).hostOmit || [];
    var callCounts = {};
    var digest = 2166136261;
    var flush = opts.settle || defaultSettle;

    /**
     * Insert in (at, seq) order (binary search; seq only grows, so an equal `at` goes last). A linear
     * scan per event made the harness — Swift on a device — a visible part of the bench's CPU figure.
     */
    /** A JSON-safe copy for the record — skipped when nothing is kept (the bench: it is harness work, Swift on a device). */
    function copy(v) { return record && !keep ? v : plain(v); }
    function schedule(at, ev) {
      ev.at = at; ev.seq = ++seq;
      var lo = 0, hi = queue.length;
      while (lo < hi) {
        var mid = (lo + hi) >>> 1;
        if (queue[mid].at <= at) lo = mid + 1; else hi = mid;
      }
      queue.splice(lo, 0, ev);
    }
    function emit(ev) {
      ev.t = now - START_MS;
      var idx = events.length;
      // The bench (keepCalls: false) skips the per-event JSON: it would dominate the footprint it measures.
      var json = record && !keep ? '' : JSON.stringify(ev);
      if (json) digest = fnv1a(digest, json);
      if (!record && !mismatch) {
        var exp = expected[idx];
        if (!exp || !sameCall(exp, ev, json)) {
          mismatch = { index: idx, expected: exp || null, actual: ev };
        }
      }
      if (keep || idx < 1) events.push(ev); else events.length = 1;
      return idx;
    }
    function fault(fn) {
      callCounts[fn] = (callCounts[fn] || 0) + 1;
      for (var i = 0; i < faults.length; i++) {
        var f = faults[i].f;
        if (f.fn === fn && (f.nth === undefined || f.nth === callCounts[fn])) return f;
      }
      return null;
    }
    /** The reply for call number `idx`: from the transcript (replay) or the model (record). */
    function replyFor(idx, fn, args) {
      if (!record) {
        var exp = expected[idx];
        return exp && exp.fn === fn && exp.reply ? exp.reply : { err: { code: 'BRIDGE_HOST_ERROR', message: 'replay diverged' }, after: 1 };
      }
      var f = fault(fn);
      var r;
      if (f && f.err) r = { err: f.err };
      else if (f && 'result' in f) r = { result: f.result };
      // A copy: the transcript keeps the reply, and the model's rows change later (outboxMark, cursors).
      else r = copy(model.answer(fn, args));
      r.after = f && f.after !== undefined ? f.after : delays[fn] !== undefined ? delays[fn] : 1;
      if (f && f.twice) r.twice = true;
      if (f && f.throws) r = { throws: f.throws };
      return r;
    }

    var host = {
      now: function () { emit({ fn: 'now', args: [], ret: now }); return now; },
      setTimer: function (ms, fire) {
        var id = ++timerSeq;
        emit({ fn: 'setTimer', args: [ms], ret: id });
        timers[id] = fire;
        schedule(now + ms, { kind: 'timer', id: id });
        return id;
      },
      clearTimer: function (id) { emit({ fn: 'clearTimer', args: [id] }); delete timers[id]; },
      randomHex: function (n) {
        var idx = events.length;
        var f = record ? fault('randomHex') : null;
        var ret = record ? (f && 'result' in f ? f.result : model.randomHex(n)) : (expected[idx] && expected[idx].ret) || '';
        emit({ fn: 'randomHex', args: [n], ret: ret });
        return ret;
      },
      lockYieldPending: function () {
        var idx = events.length;
        var f = record ? fault('lockYieldPending') : null;
        var exp = record ? null : expected[idx] || {};
        var throws = record ? f && f.throws : exp.throws;
        if (throws) { emit({ fn: 'lockYieldPending', args: [], throws: throws }); throw throws; }
        var ret = record ? (f && 'result' in f ? f.result : model.yieldPending(now - START_MS)) : exp.ret;
        emit({ fn: 'lockYieldPending', args: [], ret: ret });
        return ret;
      },
      log: function (level, tag, msg, fields) { emit({ fn: 'log', args: [level, tag, msg, fields] }); },
      contentReady: function (requestId, result) { emit({ fn: 'contentReady', args: [requestId, copy(result)] }); },
      phaseChanged: function (phase) { emit({ fn: 'phaseChanged', args: [phase] }); },
      sessionEvent: function (name, fields) { emit({ fn: 'sessionEvent', args: [name, copy(fields)] }); },
      pushTokenSave: function (state) { emit({ fn: 'pushTokenSave', args: [copy(state)] }); },
    };
    VOID_FNS.forEach(function (fn) {
      host[fn] = function () {
        emit({ fn: fn, args: [] });
        model.yieldRequested = fn === 'lockRequestYield';
      };
    });
    /** The callbacks the core handed to the host: the connection's onClose/onEnd, each subscription's onMessage. */
    var conn = {};
    var subs = {};
    ASYNC_FNS.forEach(function (fn) {
      host[fn] = function () {
        var args = Array.prototype.slice.call(arguments, 0, arguments.length - 1);
        var done = arguments[arguments.length - 1];
        if (fn === 'transportConnect') conn = { onClose: args[0], onEnd: args[1] };
        if (fn === 'transportSubscribe') subs[args[0]] = args[1];
        if (fn === 'transportUnsubscribe') delete subs[args[0]];
        var idx = events.length;
        var reply = replyFor(idx, fn, args);
        emit({ fn: fn, args: copy(args), reply: reply });
        if (reply.throws) throw reply.throws;
        schedule(now + (reply.after || 0), { kind: 'reply', done: done, reply: reply });
      };
    });
    omit.forEach(function (fn) { delete host[fn]; });

    var core = null;
    function out(step, call, p) {
      return Promise.resolve(p).then(
        function (v) { emit({ out: call, step: step, ok: true, value: plain(v) }); },
        function (e) { emit({ out: call, step: step, ok: false, error: errOut(e) }); }
      ).then(function () { if (opts.onOutput) opts.onOutput(step); });
    }
    (t.steps || []).forEach(function (s, i) { schedule(START_MS + (s.at || 0), { kind: 'step', step: i, s: s }); });

    /**
     * What the host does on its own at a step's time: 'deliver' — the relay sends a message on a
     * subscription (the host calls its onMessage; it also joins the model's queue, so the ACK finds
     * it; nothing happens unless subscribed); 'close' — the connection drops (onClose).
     */
    function hostStep(i, st) {
      if (st.host === 'deliver') {
        var m = model.arrivals[i];
        if (record) (model.queues[st.queueId] = model.queues[st.queueId] || []).push(m);
        if (typeof subs[st.queueId] !== 'function') return;
        if (record) model.subs[st.queueId] = m.msgId;
        emit({ cb: 'onMessage', queueId: st.queueId, args: [plain(m)] });
        subs[st.queueId](m);
      } else if (st.host === 'close') {
        var f = conn.onClose;
        conn = {};
        if (typeof f !== 'function') return;
        emit({ cb: 'onClose', args: [] });
        f();
      }
    }
    function fire(ev) {
      if (ev.kind === 'timer') {
        var f = timers[ev.id];
        if (!f) return;
        delete timers[ev.id];
        emit({ timer: ev.id });
        f();
      } else if (ev.kind === 'reply') {
        var r = ev.reply;
        ev.done(r.err || null, r.err ? undefined : r.result);
        if (r.twice) ev.done(r.err || null, r.err ? undefined : r.result);
        // What the host does later on its own (a SUB delivery, the connection closing), timed from this reply.
        (r.cb || []).forEach(function (c) { schedule(now + (c.after || 0), { kind: 'cb', c: c }); });
      } else if (ev.kind === 'cb') {
        var c = ev.c;
        var cbFn = c.cb === 'onMessage' ? subs[c.queueId] : conn[c.cb];
        if (typeof cbFn !== 'function') return; // unsubscribed / another connection meanwhile
        if (c.cb === 'onClose') conn = {};
        emit(c.queueId !== undefined ? { cb: c.cb, queueId: c.queueId, args: plain(c.args || []) } : { cb: c.cb, args: plain(c.args || []) });
        cbFn.apply(null, c.args || []);
      } else if (ev.kind === 'step' && ev.s.host) {
        hostStep(ev.step, ev.s);
      } else if (ev.kind === 'step') {
        var s = ev.s;
        if (!core) return emit({ out: s.call, step: ev.step, ok: false, error: { code: 'NO_CORE', message: 'createCore failed' } });
        var p;
        try { p = core[s.call].apply(core, plain(s.args || [])); } catch (e) { p = Promise.reject(e); }
        out(ev.step, s.call, p);
      }
    }

    try {
      core = Core.createCore(host, t.config);
      emit({ out: 'createCore', ok: true });
    } catch (e) {
      emit({ out: 'createCore', ok: false, error: errOut(e) });
    }

    var n = 0;
    function loop() {
      return flush().then(function () {
        if (mismatch || !queue.length || n++ > MAX_EVENTS) return;
        var ev = queue.shift();
        if (ev.kind === 'timer' && !timers[ev.id]) return loop();
        now = Math.max(now, ev.at);
        fire(ev);
        return loop();
      });
    }
    return loop().then(function () {
      if (!record && !mismatch && events.length !== expected.length) {
        mismatch = { index: events.length, expected: expected[events.length] || null, actual: null };
      }
      return { name: t.name, ok: !mismatch, events: events, digest: ('00000000' + digest.toString(16)).slice(-8), mismatch: mismatch, model: { inbox: model.inbox.length, inboxBad: model.inbox.filter(function (l) { return l.bad !== undefined; }).length, stored: Object.keys(model.stored).length, relayLeft: countLeft(model) } };
    });
  }

  function countLeft(model) {
    var n = 0;
    Object.keys(model.queues).forEach(function (q) { n += model.queues[q].length; });
    return n;
  }

  global.NsekitConformance = {
    run: run,
    START_MS: START_MS,
    /** This runner as a script, to evaluate in another realm (the bare one the bundle runs in). */
    source: '(' + nsekitConformance + ')(globalThis);',
    /** The script that makes a fresh realm bare (bareRealm): evaluate it there before the bundle. */
    bareRealmSource: '(' + bareRealm + ')(globalThis);',
  };

  /*
   * jsc entry: jsc runner.js -- bundle.js transcript.json...
   * Each transcript runs in a FRESH realm (the shell's $262.createRealm()) made bare first:
   * the shell's extras (print, setTimeout, atob, load, $262, ...) and every builtin newer than
   * the iOS floor are deleted, then the bundle and this runner are evaluated there. Only this
   * driver, in the shell's own realm, reads files, prints and settles (setTimeout).
   */
  if (typeof $262 === 'object' && typeof readFile === 'function' && typeof process === 'undefined' && global.arguments && global.arguments.length > 1) {
    var argv = global.arguments;
    var bundleSource = readFile(argv[0]);
    var files = Array.prototype.slice.call(argv, 1);
    var settle = function () { return new Promise(function (r) { setTimeout(r, 0); }); };
    var chain = Promise.resolve();
    files.forEach(function (f) {
      chain = chain.then(function () {
        // evalScript runs a Script in the new realm (its top-level `var NsekitCore` becomes that
        // realm's global even though the bundle is strict; an indirect eval would keep it local).
        var realm = $262.createRealm();
        realm.evalScript(global.NsekitConformance.bareRealmSource);
        realm.evalScript(bundleSource);
        realm.evalScript(global.NsekitConformance.source);
        var rg = realm.global;
        return rg.NsekitConformance.run(rg.NsekitCore, JSON.parse(readFile(f)), { settle: settle }).then(function (r) {
          print(JSON.stringify({ file: f, name: r.name, ok: r.ok, count: r.events.length, digest: r.digest, mismatch: r.mismatch }));
        });
      });
    });
    chain.then(function () { print('DONE'); }, function (e) { print('FAILED ' + e + '\n' + (e && e.stack)); });
  }
})(globalThis);
