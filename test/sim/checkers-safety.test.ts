import { describe, expect, it } from 'vitest';
import { checkAll, checkNoDuplicates, checkNoLoss, checkNoDead10cc } from '../../sim/checkers/index.js';
import { APP, H, NSE, validRun } from './fixtures.js';

describe('checkAll on a correct run', () => {
  it('every invariant holds and exit code is 0', () => {
    const res = checkAll(validRun().ops);
    for (const v of res.verdicts) expect({ inv: v.invariant, valid: v.valid, violations: v.violations }).toEqual({ inv: v.invariant, valid: true, violations: [] });
    expect(res.verdicts.map((v) => v.invariant)).toEqual(['no-loss', 'no-duplicates', 'no-dead10cc', 'gates', 'get-isolation', 'integrity', 'liveness', 'generation', 'bounded-work', 'live-delivery', 'presentation', 'badge', 'content', 'read-sync']);
    expect(res).toMatchObject({ valid: true, safety: true, liveness: true, exitCode: 0 });
  });
});

describe('no-loss', () => {
  it('reports an ACKed message missing from store and inbox, with the ACK and snapshot ops', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } });
    h.op({ proc: 'relay', type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } }, 'relayAck');
    h.op({ ...NSE, type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } }, 'nseAck');
    h.op({ proc: 'orchestrator', type: 'info', f: 'kill', value: { proc: 'nse', pid: 200 } });
    h.op({ proc: 'orchestrator', type: 'info', f: 'store.snapshot', value: { msgIds: [], inbox: { msgIds: [] } } }, 'snap');
    const v = checkNoLoss(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations).toEqual([{ detail: expect.stringContaining('m1'), ops: [h.at.relayAck!, h.at.nseAck!, h.at.snap!], msgId: 'm1' }]);
  });
  it('a message in the pending inbox is not lost; the explicit final state overrides snapshots', () => {
    const h = new H();
    h.op({ proc: 'relay', type: 'ok', f: 'ack', value: { msgId: 'm1' } });
    expect(checkNoLoss(h.ops, { store: { msgIds: [] }, inbox: { msgIds: ['m1'] } }).valid).toBe(true);
    expect(checkNoLoss(h.ops, { store: { msgIds: [] }, relay: { deleted: ['m9'] }, inbox: { msgIds: ['m1'] } }).violations.map((x) => x.msgId)).toEqual(['m9']);
  });
  it('is unknown without a store snapshot when something was ACKed', () => {
    const h = new H();
    h.op({ proc: 'relay', type: 'ok', f: 'ack', value: { msgId: 'm1' } });
    expect(checkNoLoss(h.ops).valid).toBe('unknown');
  });
});

describe('no-duplicates', () => {
  it('reports two inserts of one msgId and a duplicated row', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'db.write', value: { msgId: 'm1', inserted: true } }, 'w1');
    h.op({ ...APP, type: 'ok', f: 'db.write', value: { msgId: 'm1', inserted: false } });
    h.op({ ...APP, type: 'ok', f: 'db.write', value: { msgId: 'm1', inserted: true } }, 'w2');
    h.op({ proc: 'orchestrator', type: 'info', f: 'store.snapshot', value: { msgIds: ['m1', 'm1'] } }, 'snap');
    const v = checkNoDuplicates(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations).toEqual([
      { detail: 'message m1 inserted 2 times (db.write inserted=true)', ops: [h.at.w1!, h.at.w2!], msgId: 'm1' },
      { detail: 'message m1 has 2 rows in the final store', ops: [h.at.w1!, h.at.w2!, h.at.snap!], msgId: 'm1' },
    ]);
  });
  it('reports a message notified by both the NSE and the app', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'notify', value: { msgId: 'm1' } }, 'n1');
    h.op({ ...APP, type: 'ok', f: 'notify', value: { msgId: 'm2' } });
    h.op({ ...APP, type: 'ok', f: 'notify', value: { msgId: 'm1' } }, 'n2');
    h.op({ proc: 'orchestrator', type: 'info', f: 'store.snapshot', value: { msgIds: ['m1', 'm2'] } });
    const v = checkNoDuplicates(h.ops);
    expect(v.violations).toEqual([{ detail: 'message m1 notified 2 times', ops: [h.at.n1!, h.at.n2!], msgId: 'm1' }]);
  });
  it('an indeterminate second notify is unknown, not a violation', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'notify', value: { msgId: 'm1' } });
    h.op({ ...APP, type: 'info', f: 'notify', value: { msgId: 'm1' } });
    h.op({ proc: 'orchestrator', type: 'info', f: 'store.snapshot', value: { msgIds: ['m1'] } });
    expect(checkNoDuplicates(h.ops).valid).toBe('unknown');
  });
});

describe('no-dead10cc', () => {
  it('reports a freeze while the NSE holds the lock', () => {
    const h = new H();
    h.op({ ...NSE, type: 'invoke', f: 'lock.acquire' });
    h.op({ ...NSE, type: 'ok', f: 'lock.acquire' }, 'lock');
    h.op({ proc: 'orchestrator', type: 'ok', f: 'freeze', value: { proc: 'nse', pid: 200 } }, 'freeze');
    const v = checkNoDead10cc(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations).toEqual([{ detail: expect.stringContaining('holding the lock'), ops: [h.at.lock!, h.at.freeze!], proc: 'nse' }]);
  });
  it('reports a freeze inside a DB transaction, and the kernel check op', () => {
    const h = new H();
    h.op({ ...APP, type: 'ok', f: 'db.tx.begin' }, 'tx');
    h.op({ proc: 'orchestrator', type: 'info', f: 'freeze', value: { proc: 'app' } }, 'freeze');
    h.op({ proc: 'orchestrator', type: 'info', f: 'lock.held-at-freeze', value: { proc: 'app', pid: 100, backend: 'flock' } }, 'kernel');
    const v = checkNoDead10cc(h.ops);
    expect(v.violations.map((x) => x.ops)).toEqual([[h.at.tx!, h.at.freeze!], [h.at.kernel!]]);
  });
  it('does not blame a released lock, a killed holder, or another pid of the same proc', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'lock.acquire' });
    h.op({ proc: 'orchestrator', type: 'ok', f: 'kill', value: { proc: 'nse', pid: 200 } });
    h.op({ proc: 'nse', pid: 201, type: 'ok', f: 'lock.acquire' });
    h.op({ proc: 'nse', pid: 201, type: 'ok', f: 'lock.release' });
    h.op({ proc: 'orchestrator', type: 'ok', f: 'freeze', value: { proc: 'nse', pid: 201 } });
    h.op({ ...APP, type: 'ok', f: 'lock.acquire' });
    h.op({ proc: 'orchestrator', type: 'ok', f: 'freeze', value: { proc: 'nse', pid: 202 } });
    expect(checkNoDead10cc(h.ops)).toMatchObject({ valid: true, violations: [] });
  });
});
