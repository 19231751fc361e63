import { describe, expect, it } from 'vitest';
import { checkAll, checkBoundedWork, checkGates, checkGeneration, checkGetIsolation, checkLiveDelivery, LIVE_DELIVERY_MS } from '../../sim/checkers/index.js';
import { HistoryRecorder, opFromFailpoint } from '../../sim/history/index.js';
import { Observer } from '../../sim/orchestrator/observer.js';
import { APP, H, NSE, validRun } from './fixtures.js';

const ORCH = { proc: 'orchestrator' } as const;

describe('generation', () => {
  it('holds: +1 per release after a write, unchanged otherwise; dirty exactly when another instance wrote', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'lock.acquire', value: { generation: 0, dirty: true } }); // first time: dirty
    h.op({ ...NSE, type: 'ok', f: 'lock.release', value: { generation: 1, wrote: true } });
    h.op({ ...APP, type: 'ok', f: 'lock.acquire', value: { generation: 1, dirty: true } });
    h.op({ ...APP, type: 'ok', f: 'lock.release', value: { generation: 1, wrote: false } });
    h.op({ ...APP, type: 'ok', f: 'lock.acquire', value: { generation: 1, dirty: false } }); // it saw 1 last
    h.op({ ...APP, type: 'ok', f: 'lock.release', value: { generation: 2, wrote: true } });
    h.op({ ...ORCH, type: 'ok', f: 'kill', value: { proc: 'nse', pid: NSE.pid } });
    h.op({ proc: 'nse', pid: 201, type: 'ok', f: 'lock.acquire', value: { generation: 2, dirty: true } }); // a relaunch saw nothing
    h.op({ proc: 'nse', pid: 201, type: 'ok', f: 'lock.acquire', value: { generation: 2, dirty: false } }); // (killed holder: no release)
    expect(checkGeneration(h.ops)).toMatchObject({ valid: true, violations: [], notes: [] });
    expect(checkGeneration(validRun().ops)).toMatchObject({ valid: true, violations: [] }); // no fields: skipped
    expect(checkGeneration(validRun().ops).notes[0]).toMatch(/not checked/);
  });
  it('reports a write release that did not bump, a stale acquire after a write, and two writes publishing one generation', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'lock.acquire', value: { generation: 3, dirty: true } }, 'a1');
    h.op({ ...NSE, type: 'ok', f: 'lock.release', value: { generation: 3, wrote: true } }, 'r1'); // not bumped
    h.op({ ...APP, type: 'ok', f: 'lock.acquire', value: { generation: 3, dirty: true } }, 'a2');
    h.op({ ...APP, type: 'ok', f: 'lock.release', value: { generation: 4, wrote: true } }, 'r2');
    h.op({ ...NSE, type: 'ok', f: 'lock.acquire', value: { generation: 4, dirty: false } }, 'a3'); // NSE last saw 3: must be dirty
    h.op({ ...NSE, type: 'ok', f: 'lock.release', value: { generation: 4, wrote: true } }, 'r3'); // 4 again (and not a bump of 4)
    const v = checkGeneration(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations.map((x) => x.ops)).toEqual([
      [h.at.a1!, h.at.r1!],
      [h.at.a3!],
      [h.at.a3!, h.at.r3!],
      [h.at.r2!, h.at.r3!],
    ]);
    expect(v.violations[0]!.detail).toBe('nse released with wrote=true at generation 3, acquired at 3 (expected 4)');
    expect(v.violations[3]!.detail).toMatch(/two writes published generation 4/);
  });
  it('reports an instance whose counter went back (a stale read), by generations not by recording order', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'lock.acquire', value: { generation: 5, dirty: true } }, 'a1');
    h.op({ ...NSE, type: 'ok', f: 'lock.release', value: { generation: 5, wrote: false } }, 'r1');
    h.op({ ...NSE, type: 'ok', f: 'lock.acquire', value: { generation: 4, dirty: true } }, 'a2');
    const v = checkGeneration(h.ops);
    expect(v.violations.map((x) => x.ops)).toEqual([[h.at.a1!, h.at.a2!]]);
    expect(v.violations[0]!.detail).toBe('nse acquired generation 4 after it had seen generation 5 (op 0): the counter went back');
  });
  it('holds when another process\'s reports were recorded out of order (explore --compare seed 1 run 69)', () => {
    // Real order: app 4→5 (write), NSE acquires 5 (dirty), writes 5→6, acquires 6 (clean).
    // Recorded order: the NSE's acquire and release of 5 arrive before the app's write of 5.
    const h = new H();
    h.op({ ...APP, type: 'ok', f: 'lock.acquire', value: { generation: 4, dirty: true } });
    h.op({ ...NSE, type: 'ok', f: 'lock.acquire', value: { generation: 5, dirty: true } });
    h.op({ ...NSE, type: 'ok', f: 'lock.release', value: { generation: 6, wrote: true } });
    h.op({ ...APP, type: 'ok', f: 'lock.release', value: { generation: 5, wrote: true } });
    h.op({ ...NSE, type: 'ok', f: 'lock.acquire', value: { generation: 6, dirty: false } });
    expect(checkGeneration(h.ops)).toMatchObject({ valid: true, violations: [] });
  });
});

describe('bounded-work', () => {
  const push = (h: H, id: string, kind: 'start' | 'done', real = false, extra: Record<string, unknown> = {}) =>
    h.op({ ...NSE, type: 'info', f: `${real ? 'ev.' : ''}push-${kind}`, value: { pushId: id, ...extra } }, `${id}${kind}`);
  const get = (h: H, msgId: string | null, name?: string) => {
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, name);
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId } }, name ? `${name}ok` : undefined);
  };
  it('holds: one GET plus 3 extra per notification; the empty GET does not count; GETs after the next push after an expiry', () => {
    const h = new H();
    push(h, 'p1', 'start', false, { refs: 1 });
    for (const m of ['m1', 'm2', 'm3', 'm4', null]) get(h, m);
    push(h, 'p1', 'done');
    // two pushes in flight together: 8 between them
    push(h, 'p2', 'start');
    push(h, 'p3', 'start');
    for (let i = 5; i <= 12; i++) get(h, `m${i}`);
    push(h, 'p2', 'done');
    push(h, 'p3', 'done');
    push(h, 'p4', 'start');
    h.op({ ...NSE, type: 'info', f: 'notify.placeholder', value: { msgId: null, pushId: 'p4' } });
    push(h, 'p4', 'done');
    push(h, 'p5', 'start'); // a new push: GETs allowed again
    get(h, 'm13');
    push(h, 'p5', 'done');
    expect(checkBoundedWork(h.ops)).toMatchObject({ valid: true, violations: [], notes: [] });
  });
  it('reports a fifth GET for one push (real-mode event names), a GET outside any push, and a GET after the expiry', () => {
    const h = new H();
    push(h, 'p1', 'start', true);
    for (const m of ['m1', 'm2', 'm3', 'm4', 'm5']) get(h, m, m);
    push(h, 'p1', 'done', true);
    get(h, 'm6', 'outside');
    push(h, 'p2', 'start', true);
    h.op({ ...NSE, type: 'info', f: 'notify.placeholder', value: { msgId: 'm7', pushId: 'p2' } }, 'expired');
    get(h, 'm7', 'late');
    const v = checkBoundedWork(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations.map((x) => x.detail)).toEqual([
      'nse fetched 5 messages for 1 push(es) (p1) in flight together; bound 4 (1 notification(s) × (1 + 3 extra GETs))',
      `nse GET (op ${h.at.outside}) returned m6 outside any push`,
      `nse started a GET after its budget expired (best-attempt content at op ${h.at.expired}) and before its next push`,
    ]);
    expect(v.violations[0]!.ops).toEqual([h.at.p1start!, h.at.m1ok!, h.at.m2ok!, h.at.m3ok!, h.at.m4ok!, h.at.m5ok!]);
    expect(v.violations[2]!.ops).toEqual([h.at.expired!, h.at.late!]);
  });
  it('reads the cap from the run op; a kill ends an unfinished push', () => {
    const h = new H();
    h.op({ ...ORCH, type: 'info', f: 'run', value: { mode: 'instant', nseMaxExtraGets: 1 } });
    push(h, 'p1', 'start');
    get(h, 'm1');
    get(h, 'm2');
    get(h, 'm3', 'third');
    h.op({ ...ORCH, type: 'ok', f: 'kill', value: { proc: 'nse', pid: NSE.pid } });
    const v = checkBoundedWork(h.ops);
    expect(v.violations.map((x) => x.detail)).toEqual(['nse fetched 3 messages for 1 push(es) (p1) in flight together; bound 2 (1 notification(s) × (1 + 1 extra GETs))']);
    expect(v.notes).toEqual(['extra-GET cap 1 (from the run op)']);
  });
});

describe('live-delivery', () => {
  /** A fast-mode run: the app woke at t=10 and is in front. */
  function inFront(triggers: (string | null)[] = []): H {
    const h = new H();
    h.op({ ...ORCH, type: 'info', f: 'run', value: { mode: 'fast', triggers }, time: 0 });
    h.op({ ...APP, phase: 'active', type: 'info', f: 'wake', value: { reason: 'resume', mode: 'instant' }, time: 10 }, 'wake');
    h.op({ proc: 'sender', type: 'ok', f: 'send', value: { queueId: 'q1', msgId: 'm1' }, time: 20 }, 'send');
    return h;
  }
  const late = 20 + LIVE_DELIVERY_MS.fast + 1;
  it('holds when the app stores it in time; not judged when the app leaves, is held by a step, the NSE takes it, or the run ends first', () => {
    const ok = inFront();
    ok.op({ ...APP, type: 'ok', f: 'db.write', value: { msgId: 'm1', inserted: true }, time: 25 });
    ok.op({ ...ORCH, type: 'ok', f: 'step', value: { i: 0 }, time: late });
    expect(checkLiveDelivery(ok.ops)).toMatchObject({ valid: true, violations: [] });
    const excuses: ((h: H) => void)[] = [
      (h) => h.op({ ...APP, type: 'info', f: 'phase', value: { phase: 'background' }, time: 30 }),
      (h) => h.op({ ...ORCH, type: 'ok', f: 'freeze', value: { proc: 'app', pid: APP.pid }, time: 30 }),
      (h) => h.op({ ...ORCH, type: 'ok', f: 'partition', value: {}, time: 30 }),
      (h) => h.op({ proc: 'relay', type: 'ok', f: 'restart', value: {}, time: 30 }),
      (h) => h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' }, time: 30 }),
      (h) => h.op({ ...ORCH, type: 'ok', f: 'heal', value: { final: true }, time: 30 }),
      (h) => {
        // step 0 triggered at the app's net.ack.sent holds the app from that hit to the step's end
        h.op({ ...APP, type: 'invoke', f: 'ack', fp: 'net.ack.sent', value: { queueId: 'q1', msgId: 'm0' }, time: 30 });
        h.op({ ...ORCH, type: 'invoke', f: 'step', value: { i: 0, do: 'kill', proc: 'nse', at: 'net.ack.sent' }, time: late });
        h.op({ ...ORCH, type: 'ok', f: 'step', value: { i: 0 }, time: late });
      },
    ];
    for (const ex of excuses) {
      const h = inFront(['app']);
      ex(h);
      h.op({ ...ORCH, type: 'ok', f: 'step', value: { i: 1 }, time: late + 1 });
      expect(checkLiveDelivery(h.ops)).toMatchObject({ valid: true, violations: [] });
    }
  });
  it('reports a message sent to an app in front that it did not get within the bound', () => {
    const h = inFront(['nse']);
    // a step held the NSE, not the app: no excuse
    h.op({ ...APP, type: 'invoke', f: 'ack', fp: 'net.ack.sent', value: { queueId: 'q1', msgId: 'm0' }, time: 30 });
    h.op({ ...ORCH, type: 'invoke', f: 'step', value: { i: 0, do: 'kill', proc: 'app', at: 'net.ack.sent' }, time: 40 });
    h.op({ ...ORCH, type: 'ok', f: 'step', value: { i: 0 }, time: 40 });
    h.op({ ...ORCH, type: 'ok', f: 'step', value: { i: 1 }, time: late }, 'seen');
    h.op({ ...ORCH, type: 'ok', f: 'heal', value: { final: true }, time: late + 5 });
    h.op({ ...APP, type: 'ok', f: 'db.write', value: { msgId: 'm1', inserted: true }, time: late + 10 }); // the final foreground's wake
    const v = checkLiveDelivery(h.ops);
    expect(v).toMatchObject({ valid: false, kind: 'liveness' });
    expect(v.violations).toEqual([
      { detail: `message m1 sent at 20 ms while the app was in front (since op ${h.at.wake}) did not reach the app within ${LIVE_DELIVERY_MS.fast} ms`, ops: [h.at.wake!, h.at.send!, h.at.seen!], msgId: 'm1', proc: 'app' },
    ]);
    // the app is in front only from its wake: a message sent before it is not judged
    const before = new H();
    before.op({ ...ORCH, type: 'info', f: 'run', value: { mode: 'fast' }, time: 0 });
    before.op({ proc: 'sender', type: 'ok', f: 'send', value: { queueId: 'q1', msgId: 'm1' }, time: 5 });
    before.op({ ...APP, phase: 'active', type: 'info', f: 'wake', value: { reason: 'resume' }, time: 10 });
    before.op({ ...ORCH, type: 'ok', f: 'step', value: { i: 1 }, time: late });
    expect(checkLiveDelivery(before.ops).valid).toBe(true);
  });
  it('is a liveness verdict: exit code 3', () => {
    const h = validRun();
    const ops = [...h.ops];
    const t = ops[ops.length - 1]!.time;
    ops.push({ index: ops.length, time: t + 1, proc: 'orchestrator', type: 'info', f: 'run', value: { mode: 'fast' } });
    ops.push({ index: ops.length, time: t + 2, ...APP, phase: 'active', type: 'info', f: 'wake', value: {} });
    ops.push({ index: ops.length, time: t + 3, proc: 'sender', type: 'ok', f: 'send', value: { msgId: 'm9' } });
    ops.push({ index: ops.length, time: t + 3 + LIVE_DELIVERY_MS.fast + 1, proc: 'orchestrator', type: 'ok', f: 'step', value: {} });
    const res = checkAll(ops, { store: { msgIds: ['m1', 'm2', 'm9'] } });
    expect(res.verdicts.filter((v) => v.valid !== true).map((v) => v.invariant)).toEqual(['live-delivery']);
    expect(res.exitCode).toBe(3);
  });
});

describe('gates: the app\'s SEND', () => {
  it('a send may not start while sendNetwork is blocked (even while activating), nor in background; once opened it may', () => {
    const h = new H();
    h.op({ ...APP, type: 'info', f: 'phase', value: { phase: 'activating' } });
    h.op({ ...APP, type: 'info', f: 'gate.blocked', value: { proc: 'app', cls: 'sendNetwork', phase: 'background' } }, 'blocked');
    h.op({ ...APP, type: 'invoke', f: 'send', value: { queueId: 'q1', clientId: 'c1' } }, 'early');
    h.op({ ...APP, type: 'info', f: 'gate.opened', value: { proc: 'app', cls: 'sendNetwork', phase: 'activating' } });
    h.op({ ...APP, type: 'invoke', f: 'send', value: { queueId: 'q1', clientId: 'c2' } });
    h.op({ ...APP, type: 'ok', f: 'send', value: { queueId: 'q1', clientId: 'c2' } });
    h.op({ ...APP, type: 'info', f: 'phase', value: { phase: 'background' } }, 'bg');
    h.op({ ...APP, type: 'invoke', f: 'send', value: { queueId: 'q1', clientId: 'c3' } }, 'bgSend');
    const v = checkGates(h.ops);
    expect(v.violations).toEqual([
      { detail: "app started network op 'send' while its sendNetwork class was blocked (activating)", ops: [h.at.blocked!, h.at.early!], proc: 'app' },
      { detail: "app started network op 'send' while background", ops: [h.at.bg!, h.at.bgSend!], proc: 'app' },
    ]);
  });
  it('the outbox failpoints become send ops (opFromFailpoint and the real observer)', () => {
    expect(opFromFailpoint('app', 3, 'net.send.sent', { queueId: 'q1', clientId: 'c1' })).toMatchObject({ type: 'invoke', f: 'send', fp: 'net.send.sent' });
    expect(opFromFailpoint('app', 3, 'net.send.ok', { queueId: 'q1', clientId: 'c1', msgId: 'r1' })).toMatchObject({ type: 'ok', f: 'send' });
    expect(opFromFailpoint('app', 3, 'net.send.fail', { code: 'PROTO_CLOSED' })).toMatchObject({ type: 'fail', f: 'send', error: 'PROTO_CLOSED' });
    const r = new HistoryRecorder({ now: () => 0 });
    const hits = [
      { type: 'fp', seq: 1, name: 'phase.enter', fields: { phase: 'background' } },
      { type: 'fp', seq: 2, name: 'net.send.sent', fields: { queueId: 'q1', clientId: 'c1' } },
      { type: 'fp', seq: 3, name: 'net.send.fail', fields: { queueId: 'q1', clientId: 'c1', code: 'PROTO_CLOSED' } },
    ];
    new Observer(r).attach('app', { pid: 7, fpHits: hits, on: () => undefined } as never);
    expect(r.history.map((o) => `${o.type} ${o.f}`)).toEqual(['info phase', 'info phase', 'invoke send', 'fail send']);
    expect(checkGates(r.history).violations.map((x) => x.detail)).toEqual(["app started network op 'send' while background"]);
  });
});

describe('get-isolation: holds from the GET and ACK operations', () => {
  it('a slot the process reported released while its message was still being processed (ACKed later) still holds it', () => {
    const h = new H();
    h.op({ ...NSE, type: 'info', f: 'queue.slot.acquired', value: { queueId: 'q1', slot: 1 } });
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'g1');
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } }, 'g1ok');
    h.op({ ...NSE, type: 'info', f: 'queue.slot.released', value: { queueId: 'q1', slot: 1, how: 'done' } }); // too early
    h.op({ ...NSE, type: 'info', f: 'queue.slot.acquired', value: { queueId: 'q1', slot: 2 } });
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'g2');
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } }, 'g2ok');
    h.op({ ...NSE, type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } }, 'ack1');
    h.op({ ...NSE, type: 'fail', f: 'ack', value: { queueId: 'q1', msgId: 'm1' }, error: 'PROTO_NO_MSG' });
    const v = checkGetIsolation(h.ops);
    expect(v.violations).toEqual([
      { detail: `GETs by nse (op ${h.at.g1}) and nse (op ${h.at.g2}) on queue q1 both returned m1; the first released it only at op ${h.at.ack1! + 1}`, ops: [h.at.g1!, h.at.g1ok!, h.at.g2!, h.at.g2ok!], msgId: 'm1' },
    ]);
  });
  it('a GET never ACKed is released by its slot report (done or expired); the next GET of the same message is then its own', () => {
    for (const how of ['done', 'expired']) {
      const h = new H();
      h.op({ ...NSE, type: 'info', f: 'queue.slot.acquired', value: { queueId: 'q1', slot: 1 } });
      h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
      h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
      h.op({ ...NSE, type: 'info', f: 'queue.slot.released', value: { queueId: 'q1', slot: 1, how } }); // the write failed / hold timeout
      h.op({ ...NSE, type: 'info', f: 'queue.slot.acquired', value: { queueId: 'q1', slot: 2 } });
      h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
      h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
      h.op({ ...NSE, type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } }); // the second GET's ACK
      expect(checkGetIsolation(h.ops)).toMatchObject({ valid: true, violations: [] });
    }
  });
  it('a slot given up while its GET was on the wire (queue.slot.expired before the reply) ends that GET\'s hold at once', () => {
    const h = new H();
    h.op({ ...NSE, type: 'info', f: 'queue.slot.acquired', value: { queueId: 'q1', slot: 4 } });
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...NSE, type: 'info', f: 'queue.slot.expired', value: { queueId: 'q1', slot: 4 } }); // forced suspension
    h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } }); // refused by the coordinator
    h.op({ ...NSE, type: 'info', f: 'queue.slot.released', value: { queueId: 'q1', slot: 4, how: 'expired' } });
    h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    expect(checkGetIsolation(h.ops)).toMatchObject({ valid: true, violations: [] });
    // …but not another slot's expiry
    const g = new H();
    g.op({ ...NSE, type: 'info', f: 'queue.slot.acquired', value: { queueId: 'q1', slot: 4 } });
    g.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    g.op({ ...NSE, type: 'info', f: 'queue.slot.expired', value: { queueId: 'q1', slot: 3 } });
    g.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    g.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    g.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    expect(checkGetIsolation(g.ops).valid).toBe(false);
  });
  it("a release of another slot, or a SUB-path ACK (via: 'event'), does not end a GET's hold", () => {
    const h = new H();
    h.op({ ...APP, type: 'info', f: 'queue.slot.acquired', value: { queueId: 'q1', slot: 1 } });
    h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'g1');
    h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...APP, type: 'info', f: 'fp.queue.slot.released', fp: 'queue.slot.released', value: { queueId: 'q1', slot: 9, how: 'done' } });
    h.op({ ...APP, type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm1', via: 'event' } });
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'g2');
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    expect(checkGetIsolation(h.ops).violations.map((x) => x.ops[0])).toEqual([h.at.g1]);
  });
});
