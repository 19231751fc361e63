import { describe, expect, it } from 'vitest';
import { readDeviceStore, relayHasMessage, useWorld, suspendAndFreezeApp } from '../helpers/e2e-world.js';

describe('e2e: relay restart', () => {
  const world = useWorld();

  it('queued messages and pending notifications survive a relay restart; nothing lost or doubled', async () => {
    // A long coalescing window keeps the notifications pending when the relay goes down.
    const w = await world({ notify: { coalesceMs: 60_000 }, procConfig: { nseGraceMs: 300 } });
    const app = await suspendAndFreezeApp(w);

    for (let i = 1; i <= 3; i++) await w.send(0, `survivor ${i}`);
    expect(w.relay.pendingNotifications()).toBeGreaterThan(0);
    expect(w.device.pushes.length).toBe(0);

    const from = w.device.events.length;
    await w.restartRelay({ coalesceMs: 30 });
    // The restarted relay sends the persisted notifications; the NSE fetches the persisted messages.
    const stored = await w.device.waitCount('nse', 'stored', 3, (e) => !e.duplicate, { from, timeoutMs: 40_000 });
    expect(new Set(stored.map((e) => e.msgId)).size).toBe(3);
    await w.device.waitCount('nse', 'acked', 3, () => true, { from });
    expect(w.device.pushes.length).toBeGreaterThan(0);
    expect(await relayHasMessage(w, 0)).toBe(false);

    // The app had a socket to the old relay; on foreground it reconnects and stores nothing twice.
    const from2 = w.device.events.length;
    await w.device.appLifecycle('active');
    await w.device.waitEvent('app', 'wake', () => true, { from: from2, timeoutMs: 30_000 });
    await w.send(0, 'after restart');
    await w.device.waitEvent('app', 'stored', (e) => e.via === 'sub', { from: from2 });
    const snap = await readDeviceStore(w);
    expect(snap.integrity).toBe('ok');
    expect([...snap.texts.values()].sort()).toEqual(['after restart', 'survivor 1', 'survivor 2', 'survivor 3']);
    const noted = w.device.events.filter((e) => e.name === 'notification').map((e) => e.msgId);
    expect(new Set(noted).size).toBe(noted.length);
  });

  it('a foreground app reconnects with backoff, rebuilds its subscriptions and fetches what it missed', async () => {
    const w = await world({ mode: 'instant' });
    await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    const from = w.device.events.length;
    await w.relay.close();
    await w.device.waitEvent('app', 'rt', (e) => e.state === 'reconnecting' || e.state === 'degraded', { from });
    // Sent while the app is offline (the sender reconnects to the restarted relay).
    await w.restartRelay();
    await w.send(0, 'missed while offline');
    const wake = await w.device.waitEvent('app', 'wake', (e) => e.reason === 'online', { from, timeoutMs: 40_000 });
    expect(wake.mode).toBe('instant');
    await w.device.waitEvent('app', 'stored', (e) => !e.duplicate, { from });
    await w.device.waitEvent('app', 'rt', (e) => e.state === 'subscribed', { from });
    await w.send(0, 'live again');
    await w.device.waitEvent('app', 'stored', (e) => e.via === 'sub' && !e.duplicate, { from });
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()].sort()).toEqual(['live again', 'missed while offline']);
  });

  it('a long outage degrades the socket: backoff windows grow, the watchdog polls, delivery resumes when the relay returns', async () => {
    const w = await world({ mode: 'instant', procConfig: { rtBackoffBaseMs: 40, rtAttemptsBeforeFallback: 2, rtFallbackFetchMs: 100 } });
    await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    const from = w.device.events.length;
    await w.relay.close();
    const degraded = await w.device.waitEvent('app', 'rt', (e) => e.state === 'degraded', { from, timeoutMs: 30_000 });
    const windows = w.device.events.slice(from).filter((e) => e.name === 'rt' && typeof e.backoffMs === 'number');
    expect(windows.length).toBeGreaterThanOrEqual(3);
    // Exponential with jitter: each window's ceiling doubles (40, 80, 160 ms …); the third is past the first's ceiling.
    expect(windows[2]!.backoffMs as number).toBeGreaterThan(40);
    expect(degraded.backoffMs as number).toBeGreaterThan(0);
    await w.restartRelay();
    await w.send(0, 'after the outage');
    await w.device.waitEvent('app', 'stored', (e) => !e.duplicate, { from, timeoutMs: 40_000 });
    await w.device.waitEvent('app', 'rt', (e) => e.state === 'subscribed', { from, timeoutMs: 40_000 });
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()]).toEqual(['after the outage']);
  });
});
