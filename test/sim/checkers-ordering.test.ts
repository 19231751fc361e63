import { describe, expect, it } from 'vitest';
import { checkAll, checkGates, checkGetIsolation, isDbOp, isNetworkOp } from '../../sim/checkers/index.js';
import { APP, H, NSE, validRun } from './fixtures.js';

describe('gates', () => {
  it('classifies ops as documented', () => {
    expect(['get', 'ack', 'send', 'sub', 'net.connect'].every(isNetworkOp)).toBe(true);
    expect(['db.write', 'db.tx.begin', 'lock.acquire', 'inbox.import'].every(isDbOp)).toBe(true);
    expect(['db.tx.commit', 'db.close', 'notify', 'lock.release'].some(isDbOp)).toBe(false);
  });
  it('reports a DB op started while suspended (phase from the timeline) and a GET in background (phase on the op)', () => {
    const h = new H();
    h.op({ ...APP, type: 'info', f: 'phase', value: { phase: 'suspended' } }, 'susp');
    h.op({ ...APP, type: 'invoke', f: 'db.write', value: { msgId: 'm1' } }, 'write');
    h.op({ ...APP, type: 'ok', f: 'db.write', value: { msgId: 'm1', inserted: true } });
    h.op({ ...NSE, phase: 'background', type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'get');
    const v = checkGates(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations).toEqual([
      { detail: "app started DB op 'db.write' while suspended", ops: [h.at.susp!, h.at.write!], proc: 'app' },
      { detail: "nse started network op 'get' while background", ops: [h.at.get!], proc: 'nse' },
    ]);
  });
  it('allows finishing work and DB (not network) in background; a completion is not a new start', () => {
    const h = new H();
    h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...APP, type: 'info', f: 'phase', value: 'background' });
    h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...APP, type: 'invoke', f: 'db.write', value: { msgId: 'm1' } });
    h.op({ ...APP, type: 'info', f: 'phase', value: 'suspended' });
    h.op({ ...APP, type: 'ok', f: 'db.tx.commit' });
    h.op({ ...APP, type: 'ok', f: 'db.close' });
    // the first get (before any phase op) and a relaunched app pid have no phase: not checked
    h.op({ proc: 'app', pid: 101, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    const v = checkGates(h.ops);
    expect(v.valid).toBe(true);
    expect(v.notes).toEqual(['2 gated op(s) had no known phase and were not checked']);
  });
  it('an ACK during suspending/background that ends a GET started in active is that receive op, not a new start', () => {
    const h = new H();
    h.op({ ...NSE, type: 'info', f: 'phase', value: 'active' });
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...NSE, type: 'info', f: 'phase', value: 'suspending' });
    h.op({ ...NSE, type: 'invoke', f: 'db.write', value: { msgId: 'm1' } }); // DB still open while suspending
    h.op({ ...NSE, type: 'invoke', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...NSE, type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...APP, type: 'info', f: 'phase', value: 'active' });
    h.op({ ...APP, phase: 'active', type: 'invoke', f: 'get', value: { queueId: 'q2' } });
    h.op({ ...APP, phase: 'active', type: 'ok', f: 'get', value: { queueId: 'q2', msgId: 'm2' } });
    h.op({ ...APP, type: 'info', f: 'phase', value: 'background' });
    h.op({ ...APP, phase: 'background', type: 'ok', f: 'ack', value: { queueId: 'q2', msgId: 'm2' } }); // a lone ok
    expect(checkGates(h.ops)).toMatchObject({ valid: true, violations: [], notes: [] });
  });
  it('pairs the ACK by instance + queue + msgId: a GET started in background, or an ACK of another message, is still a violation', () => {
    const h = new H();
    h.op({ ...NSE, type: 'info', f: 'phase', value: 'active' });
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...NSE, type: 'info', f: 'phase', value: 'background' }, 'bg');
    h.op({ ...NSE, type: 'invoke', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...NSE, type: 'invoke', f: 'ack', value: { queueId: 'q2', msgId: 'm1' } }, 'otherQueue');
    h.op({ ...NSE, type: 'invoke', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } }, 'again'); // that receive already ended
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'bgGet');
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm2' } });
    h.op({ ...NSE, type: 'invoke', f: 'ack', value: { queueId: 'q1', msgId: 'm2' } }, 'bgAck');
    h.op({ proc: 'nse', pid: 201, phase: 'background', type: 'invoke', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } }, 'otherPid');
    const v = checkGates(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations.map((x) => Math.max(...x.ops))).toEqual([h.at.otherQueue, h.at.again, h.at.bgGet, h.at.bgAck, h.at.otherPid]);
    expect(v.violations[2]).toEqual({ detail: "nse started network op 'get' while background", ops: [h.at.bg!, h.at.bgGet!], proc: 'nse' });
  });
});

describe('get-isolation', () => {
  it('reports overlapping GETs on one queue that returned the same message', () => {
    const h = new H();
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'g1');
    h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'g2');
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } }, 'g1ok');
    h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } }, 'g2ok');
    const v = checkGetIsolation(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations).toEqual([{ detail: expect.stringContaining('never released'), ops: [h.at.g1!, h.at.g2!, h.at.g1ok!, h.at.g2ok!], msgId: 'm1' }]);
  });
  it('reports a second GET before the first was ACKed, even sequential ones in one process', () => {
    const h = new H();
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'g1');
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } }, 'g1ok');
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'g2');
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } }, 'g2ok');
    h.op({ ...NSE, type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } });
    expect(checkGetIsolation(h.ops).violations.map((x) => x.ops)).toEqual([[h.at.g1!, h.at.g1ok!, h.at.g2!, h.at.g2ok!]]);
  });
  it('allows the same message again after a release without ACK, a kill, or on another queue', () => {
    const h = new H();
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...NSE, type: 'info', f: 'fp.queue.slot.released', fp: 'queue.slot.released', value: { queueId: 'q1', how: 'timeout' } });
    h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ proc: 'orchestrator', type: 'ok', f: 'kill', value: { proc: 'app', pid: 100 } });
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q2', msgId: 'm1' } });
    expect(checkGetIsolation(h.ops)).toMatchObject({ valid: true, violations: [] });
  });
  it('a slot given up (queue.slot.expired) ends the hold of a GET never ACKed, even before its slot is handed on', () => {
    const h = new H();
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...NSE, type: 'info', f: 'queue.slot.expired', fp: 'queue.slot.expired', value: { queueId: 'q1' } });
    h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...NSE, type: 'info', f: 'queue.slot.released', fp: 'queue.slot.released', value: { queueId: 'q1', how: 'expired' } });
    expect(checkGetIsolation(h.ops)).toMatchObject({ valid: true, violations: [] });
    // Without the expiry the app's GET overlaps the NSE's hold.
    const g = new H();
    g.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    g.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    g.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    g.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    g.op({ ...NSE, type: 'info', f: 'queue.slot.released', fp: 'queue.slot.released', value: { queueId: 'q1', how: 'expired' } });
    expect(checkGetIsolation(g.ops).valid).toBe(false);
  });
});

describe('checkAll combination', () => {
  it('a safety violation makes the run invalid with exit code 1', () => {
    const ops = validRun().ops;
    ops.push({ index: ops.length, time: 999, proc: 'app', pid: 100, type: 'ok', f: 'notify', value: { msgId: 'm1' } });
    const res = checkAll(ops);
    expect(res).toMatchObject({ valid: false, safety: false, liveness: true, exitCode: 1 });
    expect(res.verdicts.filter((v) => v.valid === false).map((v) => v.invariant)).toEqual(['no-duplicates']);
  });
  it('a throwing checker yields unknown (exit 2), not a crash', () => {
    const ops = validRun().ops;
    ops.push(null as never);
    const res = checkAll(ops);
    expect(res.valid).toBe('unknown');
    expect(res.exitCode).toBe(2);
  });
});

describe('get-isolation: suspension lets go', () => {
  it('a holder that reported phase suspended no longer holds the message', () => {
    const h = new H();
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...NSE, type: 'info', f: 'phase', value: { phase: 'suspended' } });
    h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    expect(checkGetIsolation(h.ops).valid).toBe(true);
    // …but suspending (still draining) is not enough
    const k = new H();
    k.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    k.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    k.op({ ...NSE, type: 'info', f: 'phase', value: { phase: 'suspending' } });
    k.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    k.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    expect(checkGetIsolation(k.ops).valid).toBe(false);
  });
});

describe('get-isolation: a frozen or killed holder has abandoned its GET', () => {
  const ORCH = { proc: 'orchestrator' } as const;
  it('a holder frozen after its GET (or mid-receive) no longer holds the message', () => {
    for (const frozenBeforeOk of [false, true]) {
      const h = new H();
      h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
      if (frozenBeforeOk) h.op({ ...ORCH, type: 'ok', f: 'freeze', value: { proc: 'nse', pid: NSE.pid, why: 'step' } });
      h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
      if (!frozenBeforeOk) h.op({ ...ORCH, type: 'ok', f: 'freeze', value: { proc: 'nse', pid: NSE.pid, why: 'budget-over' } });
      h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
      h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
      expect(checkGetIsolation(h.ops)).toMatchObject({ valid: true, violations: [] });
    }
  });
  it('a 0xdead10cc kill of the holder releases it', () => {
    const h = new H();
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ ...ORCH, type: 'info', f: 'lock.held-at-freeze', value: { proc: 'nse', pid: NSE.pid, code: '0xdead10cc' } });
    h.op({ ...ORCH, type: 'ok', f: 'kill', value: { proc: 'nse', pid: NSE.pid, why: '0xdead10cc' } });
    h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } });
    h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    expect(checkGetIsolation(h.ops).valid).toBe(true);
  });
  it('both GETs live is still a violation: a freeze of another pid, of the other process, or a failed freeze does not count', () => {
    const h = new H();
    h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'g1');
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } }, 'g1ok');
    h.op({ ...ORCH, type: 'ok', f: 'freeze', value: { proc: 'nse', pid: NSE.pid + 1 } });
    h.op({ ...ORCH, type: 'ok', f: 'freeze', value: { proc: 'app', pid: APP.pid } });
    h.op({ ...ORCH, type: 'fail', f: 'freeze', value: { proc: 'nse', pid: NSE.pid } });
    h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'g2');
    h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } }, 'g2ok');
    h.op({ ...ORCH, type: 'ok', f: 'freeze', value: { proc: 'nse', pid: NSE.pid } });
    const v = checkGetIsolation(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations.map((x) => x.ops)).toEqual([[h.at.g1!, h.at.g1ok!, h.at.g2!, h.at.g2ok!]]);
  });
});
