import { describe, expect, it } from 'vitest';
import { checkAll, checkReadSync } from '../../sim/checkers/index.js';
import { H } from './fixtures.js';

const S = { proc: 'sender' } as const;
const A1 = { proc: 'app', pid: 101, device: 1 } as const;
const N2 = { proc: 'nse', pid: 2201, device: 2 } as const;
const O = { proc: 'orchestrator' } as const;

/** m1, m2 sent to both devices (d1: r1, r3; d2: r2, r4); device 1 taps and reads `local`; device 2 applies the marker, marking `remote`. */
function run(local: string[], remote: string[], d2Read: Record<string, boolean>, opts: { told?: number; d2StoredLate?: string } = {}): H {
  const h = new H();
  for (const [label, ids] of [['m1', ['r1', 'r2']], ['m2', ['r3', 'r4']]] as const) {
    h.op({ ...S, device: 1, type: 'ok', f: 'send', value: { label, queueId: 'q0', msgId: ids[0] } });
    h.op({ ...S, device: 2, type: 'ok', f: 'send', value: { label, queueId: 'd2-q0', msgId: ids[1] } });
  }
  for (const id of ['r2', 'r4']) if (id !== opts.d2StoredLate) h.op({ ...N2, type: 'ok', f: 'db.write', value: { msgId: id, inserted: true } });
  h.op({ ...A1, type: 'info', f: 'thread-read', value: { queueId: 'q0', msgIds: local } }, 'tap');
  h.op({ ...A1, type: 'info', f: 'read-sync', value: { state: 'sent', queueId: 'q0', upTo: 2, devices: opts.told ?? 1, of: 1 } }, 'told');
  h.op({ ...N2, type: 'info', f: 'thread-read', value: { queueId: 'd2-q0', msgIds: remote, remote: true } }, 'applied');
  if (opts.d2StoredLate) h.op({ ...N2, type: 'ok', f: 'db.write', value: { msgId: opts.d2StoredLate, inserted: true } });
  const row = (read: boolean) => ({ queueId: 'x', opens: true, textDigest: null, notification: true, read });
  h.op({ ...O, device: 1, type: 'ok', f: 'store.snapshot', value: { msgIds: ['r1', 'r3'], content: { r1: row(local.includes('r1')), r3: row(local.includes('r3')) } } });
  h.op({ ...O, device: 2, type: 'ok', f: 'store.snapshot', value: { msgIds: ['r2', 'r4'], content: { r2: row(d2Read.r2 ?? false), r4: row(d2Read.r4 ?? false) } } }, 'snap2');
  return h;
}

describe('read-sync (invariant 14)', () => {
  it('holds: device 2 marks read exactly the copies device 1 read, and they are read at the end', () => {
    const v = checkReadSync(run(['r1', 'r3'], ['r2', 'r4'], { r2: true, r4: true }).ops);
    expect(v).toMatchObject({ invariant: 'read-sync', valid: true, violations: [] });
  });
  it('one device: not judged (and checkAll lists it last)', () => {
    const h = new H();
    h.op({ ...O, type: 'ok', f: 'store.snapshot', value: { msgIds: [] } });
    expect(checkReadSync(h.ops)).toMatchObject({ valid: true, notes: ['one device: not judged'] });
    expect(checkAll(h.ops).verdicts.at(-1)!.invariant).toBe('read-sync');
  });
  it('(a) safety: a marker that marks a copy whose twin was never read on the other device', () => {
    const h = run(['r1'], ['r2', 'r4'], { r2: true, r4: true });
    const v = checkReadSync(h.ops);
    expect(v.kind).toBe('safety');
    expect(v.violations.map((x) => [x.detail, x.ops])).toEqual([['device 2 marked r4 read by another device\'s marker, but device 1 never read its copy r3 before', [h.at.applied]]]);
  });
  it('(b) liveness: a copy stored before the marker applied stays unread; not judged when it came later or nobody was told', () => {
    const h = run(['r1', 'r3'], ['r2'], { r2: true, r4: false });
    const v = checkReadSync(h.ops);
    expect(v.kind).toBe('liveness');
    expect(v.violations.map((x) => x.detail)).toEqual([`device 1 read r3 and told device 2, which applied the marker (op ${h.at.applied}) after storing its copy r4, but its copy is unread at the end`]);
    expect(v.violations[0]!.ops).toEqual([h.at.tap, h.at.told, h.at.applied, h.at.snap2]);
    expect(checkReadSync(run(['r1', 'r3'], ['r2'], { r2: true }, { d2StoredLate: 'r4' }).ops).valid).toBe(true);
    expect(checkReadSync(run(['r1', 'r3'], ['r2'], { r2: true }, { told: 0 }).ops).valid).toBe(true);
  });
  it('(b) liveness: a marker in the other device\'s store that was never applied', () => {
    const h = new H();
    h.op({ ...S, device: 1, type: 'ok', f: 'send', value: { label: 'm1', queueId: 'q0', msgId: 'r1' } });
    h.op({ ...S, device: 2, type: 'ok', f: 'send', value: { label: 'm1', queueId: 'd2-q0', msgId: 'r2' } });
    h.op({ ...N2, type: 'ok', f: 'db.write', value: { msgId: 'r2', inserted: true } });
    h.op({ ...A1, type: 'info', f: 'thread-read', value: { queueId: 'q0', msgIds: ['r1'] } }, 'tap');
    h.op({ ...A1, type: 'info', f: 'read-sync', value: { state: 'sent', queueId: 'q0', upTo: 1, devices: 1, of: 1 } }, 'told');
    const row = (read: boolean, sync = false) => ({ queueId: 'x', opens: true, textDigest: null, notification: !sync, read, ...(sync ? { deviceSync: true } : {}) });
    h.op({ ...O, device: 1, type: 'ok', f: 'store.snapshot', value: { msgIds: ['r1'], content: { r1: row(true) } } });
    h.op({ ...O, device: 2, type: 'ok', f: 'store.snapshot', value: { msgIds: ['r2', 'r9'], content: { r2: row(false), r9: row(false, true) } } }, 'snap2');
    const v = checkReadSync(h.ops);
    expect(v.violations.map((x) => [x.detail, x.ops])).toEqual([['device 1 read r1 and told device 2, whose store holds the marker, but it never applied it', [h.at.tap, h.at.told, h.at.snap2]]]);
  });
});
