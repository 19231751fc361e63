import { describe, expect, it } from 'vitest';
import { suspendAndFreezeApp, useWorld } from '../helpers/e2e-world.js';

/**
 * Real processes (docs/notifications.md): the NSE's content carries its thread and the badge; the
 * device's notification center holds it under its thread; a tap brings the frozen app to the front
 * routed to that thread — wake reason `tap`, the thread read, its delivered notifications removed,
 * the badge set to what is still unread.
 */
describe('e2e: a tap on a notification opens its conversation', () => {
  const world = useWorld();

  it('thread and badge on the NSE content; the tap reads the thread, removes its notifications and sets the badge', { timeout: 120_000 }, async () => {
    const w = await world({ procConfig: { nseGraceMs: 300 } });
    const d = w.device;
    await suspendAndFreezeApp(w);
    const from = d.events.length;
    await w.send(0, 'first');
    const n1 = await d.waitEvent('nse', 'notification', () => true, { from, timeoutMs: 40_000 });
    await w.send(0, 'second');
    const n2 = await d.waitEvent('nse', 'notification', (e) => e.msgId !== n1.msgId, { from, timeoutMs: 40_000 });
    const thread = String(n1.queueId);
    expect([n1.threadId, n2.threadId]).toEqual([thread, thread]);
    expect([n1.badge, n2.badge]).toEqual([1, 2]);
    expect(d.notifications.inThread(thread).map((x) => x.msgId)).toEqual([n1.msgId, n2.msgId]);
    expect(d.notifications.badge).toBe(2);

    const from2 = d.events.length;
    await d.tap(thread);
    const read = await d.waitEvent('app', 'thread-read', () => true, { from: from2, timeoutMs: 30_000 });
    expect(read).toMatchObject({ threadId: thread, queueId: thread, badge: 0 });
    expect([...(read.msgIds as string[])].sort()).toEqual([n1.msgId, n2.msgId].sort());
    const wakes = d.events.slice(from2).filter((e) => e.role === 'app' && e.name === 'wake');
    expect(wakes[0]?.reason).toBe('tap'); // (a reconnect of the thawed app may add an `online` one later)
    expect(d.notifications.inThread(thread)).toEqual([]);
    expect(d.notifications.badge).toBe(0);
    expect(d.violations).toEqual([]);
  });
});
