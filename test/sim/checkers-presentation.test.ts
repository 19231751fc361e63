import { describe, expect, it } from 'vitest';
import { checkAll, checkBadge, checkPresentation } from '../../sim/checkers/index.js';
import { APP, H, NSE, validRun } from './fixtures.js';

const ORCH = { proc: 'orchestrator' } as const;

describe('presentation (invariant 11)', () => {
  it('holds: every notification has its thread, nothing of a read thread is shown after it was read', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'notify', value: { msgId: 'm1', queueId: 'q1', threadId: 'q1', badge: 1 } });
    h.op({ ...NSE, type: 'info', f: 'notify.placeholder', value: { msgId: 'm2', queueId: 'q2', threadId: 'q2' } });
    h.op({ ...APP, type: 'info', f: 'thread-read', value: { threadId: 'q1', queueId: 'q1', msgIds: ['m1'], badge: 0 } });
    h.op({ ...APP, type: 'ok', f: 'notify', value: { msgId: 'm3', queueId: 'q1', threadId: 'q1', badge: 1 } }); // new after the read: fine
    expect(checkPresentation(h.ops)).toMatchObject({ valid: true, violations: [] });
  });

  it('reports a notification without its thread, or with another one', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'notify', value: { msgId: 'm1', queueId: 'q1', threadId: 'q1' } });
    h.op({ ...NSE, type: 'ok', f: 'notify', value: { msgId: 'm2', queueId: 'q1' } }, 'none');
    h.op({ ...APP, type: 'ok', f: 'notify', value: { msgId: 'm3', queueId: 'q1', threadId: 'q2' } }, 'other');
    const v = checkPresentation(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations.map((x) => x.ops)).toEqual([[h.at.none], [h.at.other]]);
  });

  it('reports a message shown after its thread was read (the banner would stay for a read message)', () => {
    const h = new H();
    h.op({ ...APP, type: 'info', f: 'ev.thread-read', value: { threadId: 'q1', queueId: 'q1', msgIds: ['m1'] } }, 'read');
    h.op({ ...NSE, type: 'ok', f: 'notify', value: { msgId: 'm1', queueId: 'q1', threadId: 'q1', badge: 1 } }, 'late');
    const v = checkPresentation(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations[0]).toMatchObject({ msgId: 'm1', ops: [h.at.read, h.at.late] });
  });

  it('a history from before thread ids is noted, not judged', () => {
    const v = checkPresentation(validRun().ops);
    expect(v.valid).toBe(true);
    expect(v.notes.join(' ')).toMatch(/not checked/);
  });
});

describe('badge (invariant 12)', () => {
  const snap = (h: H, unread: number) => h.op({ ...ORCH, type: 'ok', f: 'store.snapshot', value: { msgIds: [], unread } }, 'snap');

  it('holds when the last badge given equals the final unread count (notify, badge and thread-read all set it)', () => {
    const h = new H();
    h.op({ ...NSE, type: 'ok', f: 'notify', value: { msgId: 'm1', queueId: 'q1', threadId: 'q1', badge: 2 } });
    h.op({ ...APP, type: 'info', f: 'ev.thread-read', value: { threadId: 'q1', msgIds: ['m1'], badge: 1 } });
    snap(h, 1);
    expect(checkBadge(h.ops)).toMatchObject({ valid: true, kind: 'liveness' });
    const g = new H();
    g.op({ ...APP, type: 'info', f: 'badge', value: { count: 0 } });
    snap(g, 0);
    expect(checkBadge(g.ops).valid).toBe(true);
  });

  it('reports a stale badge at quiescence, and an unread count with no badge ever set', () => {
    const h = new H();
    h.op({ ...APP, type: 'info', f: 'badge', value: { count: 1 } }, 'b');
    h.op({ ...NSE, type: 'ok', f: 'notify', value: { msgId: 'm2', queueId: 'q1', threadId: 'q1' } }); // no badge: unchanged
    snap(h, 2);
    expect(checkBadge(h.ops)).toMatchObject({ valid: false, violations: [{ ops: [h.at.b, h.at.snap] }] });
    const g = new H();
    snap(g, 3);
    expect(checkBadge(g.ops).violations[0]!.detail).toMatch(/never set/);
  });

  it('no wake of the app after the final heal: not quiescent, not judged (liveness says why)', () => {
    const h = new H();
    h.op({ ...APP, type: 'info', f: 'badge', value: { count: 0 } });
    h.op({ ...ORCH, type: 'ok', f: 'heal', value: { final: true } });
    snap(h, 2);
    expect(checkBadge(h.ops)).toMatchObject({ valid: true });
    expect(checkBadge(h.ops).notes.join(' ')).toMatch(/no wake/);
    const g = new H();
    g.op({ ...ORCH, type: 'ok', f: 'heal', value: { final: true } });
    g.op({ ...APP, type: 'info', f: 'ev.wake', value: { reason: 'resume' } });
    g.op({ ...APP, type: 'info', f: 'ev.badge', value: { count: 1 } });
    snap(g, 2);
    expect(checkBadge(g.ops).valid).toBe(false);
  });

  it('no unread count in the snapshot: not checked; checkAll lists both verdicts after live-delivery, before content and read-sync', () => {
    expect(checkBadge(validRun().ops).notes.join(' ')).toMatch(/not checked/);
    const res = checkAll(validRun().ops);
    expect(res.verdicts.slice(-4).map((v) => [v.invariant, v.kind, v.valid])).toEqual([
      ['presentation', 'safety', true],
      ['badge', 'liveness', true],
      ['content', 'safety', true],
      ['read-sync', 'liveness', true],
    ]);
  });
});
