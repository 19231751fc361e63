import { describe, expect, it } from 'vitest';
import { checkAll, checkIntegrity, checkLiveness } from '../../sim/checkers/index.js';
import { H, NSE, validRun } from './fixtures.js';

describe('integrity', () => {
  it('reports a failed integrity_check and plaintext found at rest', () => {
    const h = new H();
    h.op({ proc: 'orchestrator', type: 'ok', f: 'kill', value: { proc: 'nse' } });
    h.op({ proc: 'orchestrator', type: 'info', f: 'integrity', value: { result: '*** in database main ***\nPage 4 is never used' } }, 'ic');
    h.op({ proc: 'orchestrator', type: 'info', f: 'plaintext.scan', value: { found: [{ file: 'inbox.jsonl', offset: 12 }] } }, 'scan');
    const v = checkIntegrity(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations.map((x) => x.ops)).toEqual([[h.at.ic!], [h.at.scan!]]);
    expect(v.violations[0]!.detail).toContain('Page 4 is never used');
  });
  it('is unknown when a kill was not followed by an integrity check', () => {
    const h = new H();
    h.op({ proc: 'orchestrator', type: 'info', f: 'integrity', value: 'ok' });
    h.op({ proc: 'orchestrator', type: 'ok', f: 'jetsam', value: { proc: 'nse' } });
    const v = checkIntegrity(h.ops);
    expect(v.valid).toBe('unknown');
    expect(v.notes[0]).toContain('no integrity check after the kill at op 1');
  });
});

describe('liveness', () => {
  it('reports a sent message that never reached the store, and one left in the pending inbox', () => {
    const h = new H();
    h.op({ proc: 'sender', type: 'ok', f: 'send', value: { msgId: 'm1' } }, 's1');
    h.op({ proc: 'sender', type: 'ok', f: 'send', value: { msgId: 'm2' } }, 's2');
    h.op({ proc: 'sender', type: 'ok', f: 'send', value: { msgId: 'm3' } });
    h.op({ proc: 'orchestrator', type: 'info', f: 'store.snapshot', value: { msgIds: ['m3'], inbox: { msgIds: ['m2'] } } }, 'snap');
    const v = checkLiveness(h.ops);
    expect(v).toMatchObject({ kind: 'liveness', valid: false });
    expect(v.violations).toEqual([
      { detail: 'message m1 sent but not delivered at the end of the run', ops: [h.at.s1!, h.at.snap!], msgId: 'm1' },
      { detail: 'message m2 sent but still in the pending inbox at the end of the run', ops: [h.at.s2!, h.at.snap!], msgId: 'm2' },
    ]);
    const all = checkAll(h.ops);
    expect(all).toMatchObject({ safety: true, liveness: false, valid: false, exitCode: 3 });
  });
  it('reports a message stored later than the convergence bound after the last heal', () => {
    const h = new H();
    h.op({ proc: 'sender', type: 'ok', f: 'send', value: { msgId: 'm1' } }, 's1');
    h.op({ proc: 'orchestrator', type: 'ok', f: 'heal', time: 100 });
    h.op({ ...NSE, type: 'ok', f: 'db.write', value: { msgId: 'm1', inserted: true }, time: 400 }, 'w');
    h.op({ proc: 'orchestrator', type: 'info', f: 'store.snapshot', value: { msgIds: ['m1'] }, time: 500 });
    expect(checkLiveness(h.ops, { convergenceMs: 1000 }).valid).toBe(true);
    const v = checkLiveness(h.ops, { convergenceMs: 200 });
    expect(v.violations).toEqual([{ detail: 'message m1 stored 300 ms after the convergence began (bound 200 ms)', ops: [h.at.s1!, h.at.w!], msgId: 'm1' }]);
  });
  it('the correct run is live', () => {
    expect(checkLiveness(validRun().ops).valid).toBe(true);
  });
});
