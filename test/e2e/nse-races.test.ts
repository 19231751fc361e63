import { describe, expect, it } from 'vitest';
import { readDeviceStore, relayHasMessage, useWorld, suspendAndFreezeApp } from '../helpers/e2e-world.js';

describe('e2e: NSE races', () => {
  const world = useWorld();

  it('two notifications for one queue, handled concurrently, store two distinct messages', async () => {
    // One push per message, no coalescing: both pushes reach the NSE while it starts.
    const w = await world({ notify: { coalesceMs: 0, bundleMax: 1 }, procConfig: { nseGraceMs: 300, nseMaxExtraGets: 0 } });
    const nse = await w.device.startNse();
    // Hold the first push right after its GET (queue slot held, nothing ACKed yet).
    const paused = nse.armFailpoint('net.get.ok');
    await w.send(0, 'first');
    const hit = await paused;
    await w.send(0, 'second');
    // The second push starts while the first is mid-fetch on the same queue.
    const second = await w.device.waitEvent('nse', 'push-start', (e) => e.inFlight === 2, { timeoutMs: 40_000 });
    expect(w.device.events.some((e) => e.name === 'push-done')).toBe(false);
    nse.releaseFailpoint(hit);
    expect(second.pushId).toBe('p2');
    const done = await w.device.waitCount('nse', 'push-done', 2, () => true, { timeoutMs: 40_000 });
    // Each push did exactly one GET (no extra GETs): the per-queue slot gave them different messages.
    expect(done.map((e) => e.stored)).toEqual([1, 1]);
    const stored = w.device.events.filter((e) => e.name === 'stored');
    expect(stored.filter((e) => e.duplicate)).toEqual([]);
    expect(new Set(stored.map((e) => e.msgId)).size).toBe(2);
    expect(w.device.events.filter((e) => e.name === 'error')).toEqual([]);
    expect(w.device.nseHistory.length).toBe(1); // the second push reused the live NSE
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()].sort()).toEqual(['first', 'second']);
  });

  it('the app activating while the NSE is between GET and write loses and duplicates nothing', async () => {
    const w = await world({ procConfig: { nseGraceMs: 5_000 } });
    const app = await suspendAndFreezeApp(w);
    const nse = await w.device.startNse();
    const paused = nse.armFailpoint('inbound.decrypted');
    await w.send(0, 'contested');
    const hit = await paused; // the NSE has the message from GET, not yet written or ACKed
    const from = w.device.events.length;
    await w.device.appLifecycle('active'); // the NSE yields first, then the app wakes
    const y = await w.device.waitEvent('nse', 'yielded', () => true, { from });
    expect(y.lockHeld).toBe(false);
    await w.device.waitEvent('app', 'wake', () => true, { from });
    nse.releaseFailpoint(hit);
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()]).toEqual(['contested']);
    expect(await relayHasMessage(w, 0)).toBe(false);
    expect(w.device.notificationsShown()).toBe(1);
    expect(w.device.violations).toEqual([]);
  });

  it('the app activating while the NSE holds the lock mid-transaction: the NSE commits, yields; nothing lost or doubled', async () => {
    const w = await world({ procConfig: { nseGraceMs: 5_000 } });
    const app = await suspendAndFreezeApp(w);
    const nse = await w.device.startNse();
    const paused = nse.armFailpoint('db.tx.commit');
    await w.send(0, 'mid-tx 1');
    await w.send(0, 'mid-tx 2');
    const hit = await paused; // inside BEGIN IMMEDIATE, cross-process lock held
    expect(w.device.holdsLock(nse.pid)).toBe(true);
    const from = w.device.events.length;
    const activating = w.device.appLifecycle('active');
    await w.device.waitEvent('nse', 'yielding', () => true, { from });
    nse.releaseFailpoint(hit);
    await activating;
    await w.device.waitEvent('nse', 'yielded', () => true, { from });
    await w.device.waitEvent('app', 'wake', () => true, { from });
    const snap = await readDeviceStore(w);
    expect(snap.integrity).toBe('ok');
    expect([...snap.texts.values()].sort()).toEqual(['mid-tx 1', 'mid-tx 2']);
    expect(await relayHasMessage(w, 0)).toBe(false);
    // Each message notified at most once (the NSE's pending markNotified waits behind its closed gate).
    const noted = w.device.events.filter((e) => e.name === 'notification').map((e) => e.msgId);
    expect(new Set(noted).size).toBe(noted.length);
    expect(w.device.violations).toEqual([]);
  });
});
