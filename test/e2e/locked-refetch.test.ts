import { describe, expect, it } from 'vitest';
import { readDeviceInbox, readDeviceStore, relayHasMessage, suspendAndFreezeApp, useWorld } from '../helpers/e2e-world.js';

/**
 * Device locked, real processes: the NSE appends a message to the pending inbox, marks it
 * notified and shows the generic notification, but its ACK never reaches the relay (the relay
 * restarts while the NSE is held right before the ACK). The next push makes the NSE GET the
 * same message again: appended a second time, its marker already there → no second
 * notification. On unlock the app imports both copies once and the marker into notifications.
 */
describe('e2e: locked device, a message re-fetched before its ACK landed', () => {
  const world = useWorld();

  it('is notified once; the import stores it once and carries the marker', { timeout: 120_000 }, async () => {
    const w = await world({ procConfig: { nseGraceMs: 60_000, nseBudgetMs: 60_000 } });
    const d = w.device;
    await suspendAndFreezeApp(w);
    d.lock();

    const nse = await d.startNse();
    const held = nse.armFailpoint('net.ack.sent', { timeoutMs: 40_000 });
    const from = d.events.length;
    await w.send(0, 'sent once');
    const hit = await held;
    const msgId = String(hit.fields?.msgId);
    const first = await d.waitEvent('nse', 'inbox-marked', (e) => e.msgId === msgId, { from });
    expect(first.fresh).toBe(true);

    // The ACK is lost: the relay goes away under the held NSE and comes back with m1 still queued.
    await w.restartRelay();
    nse.releaseFailpoint(hit);
    await d.waitEvent('nse', 'push-done', () => true, { from, timeoutMs: 40_000 });
    expect(await relayHasMessage(w, 0)).toBe(true);

    // A second message: its push makes the NSE GET the queue again — m1 first.
    const from2 = d.events.length;
    await w.send(0, 'sent after');
    const acked = await d.waitCount('nse', 'acked', 2, () => true, { from: from2, timeoutMs: 40_000 });
    expect(acked[0]!.msgId).toBe(msgId);
    const again = await d.waitEvent('nse', 'inbox-marked', (e) => e.msgId === msgId, { from: from2 });
    expect(again.fresh).toBe(false);
    const other = String(acked[1]!.msgId);
    await d.waitEvent('nse', 'notification', (e) => e.msgId === other, { from: from2 });

    const all = d.events.slice(from);
    const notified = all.filter((e) => e.name === 'notification').map((e) => e.msgId);
    expect(notified).toEqual([msgId, other]); // m1 once, generic, before the re-fetch
    expect(all.filter((e) => e.name === 'inboxed' && e.msgId === msgId)).toHaveLength(2);
    expect(readDeviceInbox(w).sort()).toEqual([msgId, msgId, other].sort());
    // The order on the NSE: append, mark (fresh), notification; append, mark (not fresh), ACK.
    const seq = all
      .filter((e) => e.role === 'nse' && e.msgId === msgId && ['inboxed', 'inbox-marked', 'notification', 'acked'].includes(e.name))
      .map((e) => (e.name === 'inbox-marked' ? `marked:${String(e.fresh)}` : e.name));
    expect(seq).toEqual(['inboxed', 'marked:true', 'notification', 'inboxed', 'marked:false', 'acked']);

    d.unlock();
    const from3 = d.events.length;
    await d.appLifecycle('active');
    const imp = await d.waitEvent('app', 'imported', () => true, { from: from3, timeoutMs: 30_000 });
    expect(imp).toMatchObject({ records: 3, count: 2, duplicates: 1, markers: 2 });
    await d.waitEvent('app', 'wake', () => true, { from: from3, timeoutMs: 30_000 });
    expect(readDeviceInbox(w)).toEqual([]);
    const snap = await readDeviceStore(w);
    expect(snap.integrity).toBe('ok');
    expect([...snap.texts.values()].sort()).toEqual(['sent after', 'sent once']);
    expect(d.events.slice(from3).filter((e) => e.name === 'notification')).toEqual([]);
    expect(d.violations).toEqual([]);
  });
});
