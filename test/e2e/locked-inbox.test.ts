import { describe, expect, it } from 'vitest';
import { readDeviceInbox, readDeviceStore, useWorld, suspendAndFreezeApp } from '../helpers/e2e-world.js';

describe('e2e: device locked → pending inbox → imported on unlock', () => {
  const world = useWorld();

  it('the NSE appends to the inbox while locked; the app imports it on unlock, once', async () => {
    const w = await world({ procConfig: { nseGraceMs: 300 } });
    const app = await suspendAndFreezeApp(w);
    w.device.lock();

    const from = w.device.events.length;
    await w.send(0, 'locked 1');
    await w.send(0, 'locked 2');
    const inboxed = await w.device.waitCount('nse', 'inboxed', 2, () => true, { from, timeoutMs: 40_000 });
    // Locked: generic content only (the body cannot be read without the key).
    const notes = await w.device.waitCount('nse', 'notification', 2, () => true, { from });
    expect(notes.every((e) => e.title === 'New message' && e.body === '')).toBe(true);
    expect(readDeviceInbox(w).sort()).toEqual(inboxed.map((e) => e.msgId as string).sort());
    await w.device.waitEvent('nse', 'suspended', () => true, { from });

    w.device.unlock();
    const from2 = w.device.events.length;
    await w.device.appLifecycle('active');
    const imp = await w.device.waitEvent('app', 'imported', () => true, { from: from2 });
    expect(imp.count).toBe(2);
    await w.device.waitEvent('app', 'wake', () => true, { from: from2 });
    expect(readDeviceInbox(w)).toEqual([]);
    const snap = await readDeviceStore(w);
    expect(snap.integrity).toBe('ok');
    expect([...snap.texts.values()].sort()).toEqual(['locked 1', 'locked 2']);
  });
});
