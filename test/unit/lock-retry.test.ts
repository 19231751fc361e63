/**
 * Store writes that fail with LOCK_TIMEOUT are retried with backoff while the phase allows
 * (src/core/session/runtime.ts retryOnLockTimeout), on the fast ports: another process (pid 999)
 * holds the shared lock for longer than the store's 5 s lock timeout, then lets it go. Nothing
 * fetched stays undelivered once the lock is free, without a new wake from outside; the error
 * events name the holder. Orderings and counts on the virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { FastHarness, val } from './fast-harness.js';

const lockTimeouts = (h: FastHarness, proc: 'app' | 'nse') => h.history.filter((o) => o.proc === proc && o.f === 'store.put' && o.type === 'fail' && o.error === 'LOCK_TIMEOUT').length;
const storedOnce = (h: FastHarness, msgId: string) => h.history.filter((o) => o.f === 'db.write' && val(o).msgId === msgId && val(o).inserted === true).length;

describe('LOCK_TIMEOUT: the app', () => {
  it('SUB delivery: the write is retried after the holder lets go (7 s > the 5 s lock timeout); stored once, then ACKed, no error', async () => {
    const h = new FastHarness();
    await h.start();
    const release = h.holdLock();
    h.w.sched.setTimer('orchestrator', 7_000, release);
    const m = h.sendGood(0);
    expect(await h.run(() => h.w.relay.deleted.includes(m) && h.ops('notify').length > 0, 60_000)).toBe(true);
    expect(lockTimeouts(h, 'app')).toBeGreaterThanOrEqual(1);
    expect(storedOnce(h, m)).toBe(1);
    expect(h.events('error', () => true, 'app')).toEqual([]);
    expect(h.events('notify', (v) => v.msgId === m)).toHaveLength(1);
  });

  it('held past every retry (40 s): the delivery is reported with the holder, and the app GETs the message again by itself once the lock is free', async () => {
    const h = new FastHarness();
    await h.start();
    const release = h.holdLock(999);
    h.w.sched.setTimer('orchestrator', 40_000, release);
    const lifecycleBefore = h.ops('phase', 'app').length;
    const m = h.sendGood(0);
    expect(await h.run(() => h.w.relay.deleted.includes(m) && h.ops('notify').length > 0, 300_000)).toBe(true);
    expect(storedOnce(h, m)).toBe(1);
    const errs = h.events('error', (v) => v.code === 'LOCK_TIMEOUT', 'app');
    expect(errs.length).toBeGreaterThanOrEqual(1);
    expect(errs[0]).toMatchObject({ where: 'sub delivery', holderPid: 999, msgId: m, queueId: 'q0' });
    // Fetched again by a wake the app ran on its own (no lifecycle command in between).
    expect(h.ops('phase', 'app').length).toBe(lifecycleBefore);
    const gets = h.history.filter((o) => o.proc === 'app' && o.f === 'get' && o.type === 'ok' && val(o).msgId === m);
    expect(gets.length).toBeGreaterThanOrEqual(1);
    expect(h.events('notify', (v) => v.msgId === m)).toHaveLength(1);
  });

  it("wake fetch (GET): the write waits out the holder and the message is stored and ACKed in the same wake", async () => {
    const h = new FastHarness();
    h.w.pushesHeld = true;
    const m = h.sendGood(1);
    const release = h.holdLock();
    h.w.sched.setTimer('orchestrator', 8_000, release);
    await h.start();
    expect(h.w.relay.deleted).toContain(m);
    expect(lockTimeouts(h, 'app')).toBeGreaterThanOrEqual(1);
    expect(storedOnce(h, m)).toBe(1);
    expect(h.ops('wake', 'app')).toHaveLength(1);
  });
});

describe('LOCK_TIMEOUT: the NSE', () => {
  it('retries its write within its budget: stored and shown once the holder lets go', async () => {
    const h = new FastHarness({ timeFactor: 1 }); // the NSE's real 30 s budget (its own timer at 24 s)
    await h.start();
    h.rules.expireApp('test');
    await h.idle(3_000);
    const release = h.holdLock();
    h.w.sched.setTimer('orchestrator', 7_000, release);
    const m = h.sendGood(0);
    expect(await h.run(() => h.w.relay.deleted.includes(m) && h.ops('notify').length > 0, 60_000)).toBe(true);
    expect(lockTimeouts(h, 'nse')).toBeGreaterThanOrEqual(1);
    expect(storedOnce(h, m)).toBe(1);
    expect(h.ops('notify', 'nse').map((o) => val(o).msgId)).toEqual([m]);
    expect(h.ops('notify.placeholder', 'nse')).toEqual([]);
  });

  it('held past its budget: no ACK, the error names the holder, no retry after the expiry; the app fetches the message once the lock is free', async () => {
    const h = new FastHarness({ timeFactor: 1 });
    await h.start();
    h.rules.expireApp('test');
    await h.idle(3_000);
    const release = h.holdLock(999);
    const m = h.sendGood(0);
    expect(await h.run(() => h.ops('notify.placeholder', 'nse').length > 0, 60_000)).toBe(true);
    const expiredAt = h.indexOf((o) => o.proc === 'nse' && o.f === 'notify.placeholder');
    await h.idle(10_000);
    expect(h.w.relay.queued().map((x) => x.msgId)).toEqual([m]); // never ACKed: still at the relay
    expect(h.events('error', (v) => v.code === 'LOCK_TIMEOUT', 'nse')).toEqual([expect.objectContaining({ where: 'nse fetch', holderPid: 999 })]);
    // No write attempt starts after the budget expired.
    expect(h.history.filter((o) => o.index > expiredAt && o.proc === 'nse' && o.f === 'store.put' && o.type === 'invoke')).toEqual([]);
    release();
    await h.settle(h.rules.foreground());
    expect(await h.run(() => h.w.relay.deleted.includes(m), 60_000)).toBe(true);
    expect(storedOnce(h, m)).toBe(1);
  });
});
