import { describe, expect, it } from 'vitest';
import { readDeviceStore, relayHasMessage, useWorld, suspendAndFreezeApp } from '../helpers/e2e-world.js';

describe('e2e: the iOS rules the device enforces', () => {
  const world = useWorld();

  it('freezing the NSE while it holds the lock is a 0xdead10cc: recorded, killed; the DB stays intact and nothing is lost', async () => {
    const w = await world({ procConfig: { nseGraceMs: 5_000 } });
    const app = await suspendAndFreezeApp(w); // creates the store and its key check
    const nse = await w.device.startNse();
    const paused = nse.armFailpoint('db.tx.commit');
    await w.send(0, 'held when frozen');
    await paused;
    expect(w.device.holdsLock(nse.pid)).toBe(true);
    expect(w.device.freeze(nse)).toBe('killed');
    await nse.exit();
    expect(w.device.violations.map((v) => v.kind)).toEqual(['0xdead10cc']);
    // Killed before commit and before ACK: the relay still has it; the app picks it up.
    expect(await relayHasMessage(w, 0)).toBe(true);
    const from = w.device.events.length;
    await w.device.appLifecycle('active');
    await w.device.waitEvent('app', 'stored', (e) => !e.duplicate, { from });
    const snap = await readDeviceStore(w);
    expect(snap.integrity).toBe('ok');
    expect([...snap.texts.values()]).toEqual(['held when frozen']);
  });

  it('the NSE budget expires: best-attempt content is delivered at once, the message stays at the relay for the app', async () => {
    const w = await world({ procConfig: { nseGraceMs: 5_000, nseBudgetMs: 400 } });
    const nse = await w.device.startNse();
    // The GET answer "never comes back" in time: hold the NSE right after it.
    const paused = nse.armFailpoint('net.get.ok');
    await w.send(0, 'slow network');
    const hit = await paused;
    const best = await w.device.waitEvent('nse', 'notification', (e) => e.bestAttempt === true);
    expect(best.title).toBe('New message');
    expect(typeof best.msgId).toBe('string');
    await w.device.waitEvent('nse', 'suspended');
    nse.releaseFailpoint(hit); // the NSE is frozen by now; the release waits for a thaw
    expect(await relayHasMessage(w, 0)).toBe(true);
    await w.device.launchApp();
    const stored = await w.device.waitEvent('app', 'stored', (e) => !e.duplicate);
    expect(stored.msgId).toBe(best.msgId);
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()]).toEqual(['slow network']);
  });
});
