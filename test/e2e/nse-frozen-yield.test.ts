import { describe, expect, it } from 'vitest';
import { readDeviceStore, relayHasMessage, useWorld, suspendAndFreezeApp } from '../helpers/e2e-world.js';

describe('e2e: an NSE frozen when the app comes to the front', () => {
  const world = useWorld();

  it('is not waited for, but yields once thawed; nothing lost or doubled', async () => {
    const w = await world({ procConfig: { nseGraceMs: 5_000 } });
    const app = await suspendAndFreezeApp(w);
    const nse = await w.device.startNse();
    const paused = nse.armFailpoint('inbound.decrypted');
    await w.send(0, 'held');
    const hit = await paused; // the NSE has the message from GET, not yet written or ACKed
    expect(w.device.freeze(nse)).toBe('frozen'); // no lock held here: a plain freeze
    const from = w.device.events.length;
    await w.device.appLifecycle('active'); // a frozen NSE cannot answer: no wait
    await w.device.waitEvent('app', 'wake', () => true, { from });
    expect(w.device.events.slice(from).some((e) => e.role === 'nse' && e.name === 'yielding')).toBe(false);
    w.device.thaw(nse);
    // The app-state sent while it was frozen is read now: it yields instead of fetching on.
    await w.device.waitEvent('nse', 'yielding', () => true, { from });
    nse.releaseFailpoint(hit);
    await w.device.waitEvent('nse', 'yielded', () => true, { from });
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()]).toEqual(['held']);
    expect(await relayHasMessage(w, 0)).toBe(false);
    expect(w.device.violations).toEqual([]);
  });
});
