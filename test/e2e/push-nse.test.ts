import { describe, expect, it } from 'vitest';
import { readDeviceStore, relayHasMessage, useWorld, suspendAndFreezeApp } from '../helpers/e2e-world.js';

describe('e2e: push → NSE while the app is frozen', () => {
  const world = useWorld();

  it('the NSE fetches, stores, ACKs and shows content; the thawed app duplicates nothing', async () => {
    const w = await world({ mode: 'instant', procConfig: { nseGraceMs: 300 } });
    const app = await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    // Background → suspended (store closed, lock released) → frozen, as iOS does.
    await w.device.appLifecycle('suspend');
    const susp = await w.device.waitEvent('app', 'suspended');
    expect(susp.lockHeld).toBe(false);
    expect(w.device.freeze(app)).toBe('frozen');

    const from = w.device.events.length;
    await w.send(0, 'while frozen 1');
    await w.send(0, 'while frozen 2');
    await w.send(0, 'a receipt', { type: 'receipt' });
    const stored = await w.device.waitCount('nse', 'stored', 3, (e) => !e.duplicate, { from, timeoutMs: 40_000 });
    const notes = await w.device.waitCount('nse', 'notification', 2, () => true, { from });
    expect(new Set(stored.map((e) => e.msgId)).size).toBe(3);
    // User content only: the receipt is stored but never shown.
    expect(notes.map((e) => e.body).sort()).toEqual(['while frozen 1', 'while frozen 2']);
    // The NSE suspends after its grace period and the device freezes it; no 0xdead10cc.
    const nseSusp = await w.device.waitEvent('nse', 'suspended', () => true, { from });
    expect(nseSusp.lockHeld).toBe(false);
    expect(w.device.violations).toEqual([]);
    expect(await relayHasMessage(w, 0)).toBe(false);

    // Thaw and foreground the app: it wakes, finds nothing new, stores nothing twice.
    const from2 = w.device.events.length;
    await w.device.appLifecycle('active');
    await w.device.waitEvent('app', 'wake', () => true, { from: from2 });
    expect(w.device.events.slice(from2).filter((e) => e.name === 'stored' && !e.duplicate)).toEqual([]);
    const snap = await readDeviceStore(w);
    expect(snap.integrity).toBe('ok');
    expect([...snap.texts.values()].sort()).toEqual(['a receipt', 'while frozen 1', 'while frozen 2']);
    expect(w.device.notificationsShown()).toBe(2);
  });
});

describe('e2e: the same path with the lease lock backend', () => {
  const world = useWorld();

  it('app and NSE share the store through proper-lockfile leases', async () => {
    const w = await world({ procConfig: { nseGraceMs: 300, lockBackend: 'lease' } });
    const app = await suspendAndFreezeApp(w);
    const from = w.device.events.length;
    await w.send(0, 'leased');
    await w.device.waitEvent('nse', 'notification', (e) => e.body === 'leased', { from, timeoutMs: 40_000 });
    await w.device.appLifecycle('active');
    await w.device.waitEvent('app', 'wake', () => true, { from });
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()]).toEqual(['leased']);
  });
});
