import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SHARED_FILES } from '../../src/device/ipc.js';
import type { LoggedEvent } from '../../src/device/event-log.js';
import { flockHolders } from '../../src/node/lock/proc-locks.js';
import { readDeviceInbox, readDeviceStore, useWorld } from '../helpers/e2e-world.js';

/**
 * A pending-inbox append must not outlive a forced suspension: the NSE is held
 * at `inbox.append` (about to take the inbox flock), told to suspend with a
 * deadline far shorter than the hold, and only released once its suspension
 * has visibly gone past the deadline (`inbox-wait`). `suspended` may come only
 * after the append finished, with no flock held (the kernel's view), and the
 * app's import on unlock then completes with nothing lost or doubled.
 */
describe('e2e: inbox append vs forced suspension', () => {
  const world = useWorld();

  it('suspended is reported only after the in-flight inbox append; no flock held; the app imports it', { timeout: 120_000 }, async () => {
    const w = await world({ procConfig: { nseGraceMs: 60_000, nseBudgetMs: 60_000 } });
    const d = w.device;
    const app = await d.launchApp();
    await d.waitEvent('app', 'wake');
    await d.appLifecycle('suspend');
    await d.waitEvent('app', 'suspended');
    d.freeze(app);
    d.lock();

    const nse = await d.startNse();
    const paused = nse.armFailpoint('inbox.append');
    await w.send(0, 'appended at the deadline');
    const hit = await paused;

    const from = d.events.length;
    nse.send({ type: 'lifecycle', event: 'suspend', deadlineMs: 20 });
    // Whichever comes first: the fix waits for the append (inbox-wait); the bug reported suspended.
    const first = await Promise.race([
      d.waitEvent('nse', 'inbox-wait', () => true, { from, timeoutMs: 30_000 }),
      d.waitEvent('nse', 'suspended', () => true, { from, timeoutMs: 30_000 }),
    ]);
    expect(first.name).toBe('inbox-wait');
    expect(first.inFlight).toBe(1);
    // The deadline was forced (onSuspend runs with the append still in the database class).
    expect(d.events.slice(from).some((e) => e.role === 'nse' && e.name === 'suspended')).toBe(false);

    nse.releaseFailpoint(hit);
    const suspended = await d.waitEvent('nse', 'suspended', () => true, { from, timeoutMs: 30_000 });
    // Checked right away (the device freezes the NSE on `suspended`): nothing holds a file lock.
    const inboxHolders = flockHolders(join(d.sharedDir, SHARED_FILES.inbox));
    const storeHolders = flockHolders(join(d.sharedDir, SHARED_FILES.lock));
    expect(inboxHolders).not.toContain(nse.pid);
    expect(storeHolders).not.toContain(nse.pid);
    expect(suspended.lockHeld).toBe(false);
    expect(suspended.storeOpen).toBe(false);
    const idx = (e: LoggedEvent) => d.events.indexOf(e);
    const inboxed = await d.waitEvent('nse', 'inboxed', () => true, { from });
    expect(idx(inboxed)).toBeLessThan(idx(suspended));
    expect(readDeviceInbox(w)).toEqual([inboxed.msgId]);
    expect(d.violations).toEqual([]);

    // Unlock and open the app: the import takes the inbox barrier flock — it must not block.
    d.unlock();
    const from2 = d.events.length;
    await d.appLifecycle('active');
    const imp = await d.waitEvent('app', 'imported', () => true, { from: from2, timeoutMs: 30_000 });
    expect(imp.count).toBe(1);
    await d.waitEvent('app', 'wake', () => true, { from: from2, timeoutMs: 30_000 });
    expect(d.events.slice(from2).filter((e) => e.role === 'app' && e.name === 'error')).toEqual([]);
    expect(readDeviceInbox(w)).toEqual([]);
    const snap = await readDeviceStore(w);
    expect(snap.integrity).toBe('ok');
    expect([...snap.texts.values()]).toEqual(['appended at the deadline']);
  });
});
