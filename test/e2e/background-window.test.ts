/**
 * Background windows through the real device and processes (docs/processes.md "Background
 * windows"): a refresh window drains the outbox of a suspended, frozen app without a GET and
 * leaves it suspended holding nothing; a silent push through the push gateway relaunches a dead
 * app into the background (not into the front), is not delivered to a force-quit app, and once
 * the gateway throttles, the sender's visible fallback reaches the NSE. Orderings and counts only.
 */
import { describe, expect, it } from 'vitest';
import { REFRESH_TASK_ID } from '../../src/core/session/index.js';
import { pushSilentOrVisible } from '../../src/relay/silent-push.js';
import { useWorld } from '../helpers/e2e-world.js';

describe('e2e: background windows', () => {
  const world = useWorld();

  it('refresh: off until the user turns it on; then one request, and a window sends the outbox without a GET and suspends cleanly', async () => {
    const w = await world({ appCanSend: true });
    const app = await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    const qid = w.queues[0]!.queueId;
    // Off by default: a window is skipped.
    let from = w.device.events.length;
    expect(await w.device.background.grant('refresh', 5_000)).toBe('skipped'); // in front, and off
    w.device.background.settings(true);
    await w.device.waitEvent('app', 'bg-refresh', (e) => e.state === 'scheduled' && e.replaced === false, { from });
    // Leave the front (a second submission replaces the first), queue a message, suspend, freeze.
    await w.device.appLifecycle('background');
    await w.device.waitEvent('app', 'bg-refresh', (e) => e.replaced === true, { from });
    app.send({ type: 'send', queueId: qid, text: 'written in the background', clientId: 'bg-1' });
    await w.device.waitEvent('app', 'outbox', (e) => e.clientId === 'bg-1' && e.state === 'sending', { from });
    await w.device.appLifecycle('suspend');
    await w.device.waitEvent('app', 'suspended', () => true, { from });
    expect(w.device.freeze(app)).toBe('frozen');

    from = w.device.events.length;
    expect(await w.device.background.grant('refresh', 5_000)).toBe('done');
    const mine = w.device.events.slice(from).filter((e) => e.role === 'app');
    const names = mine.map((e) => `${e.name}:${String(e.state ?? e.phase ?? '')}`);
    expect(names.indexOf('bg-window:start')).toBeLessThan(names.indexOf('outbox:sent'));
    expect(names.indexOf('outbox:sent')).toBeLessThan(names.lastIndexOf('suspended:'));
    expect(names.lastIndexOf('suspended:')).toBeLessThan(names.indexOf('bg-window:end'));
    expect(mine.filter((e) => e.name === 'outbox' && e.state === 'sent').map((e) => e.clientId)).toEqual(['bg-1']);
    // Push-only: no fetch, no SUB, no wake sequence.
    expect(mine.filter((e) => e.name === 'sync' || e.name === 'wake' || (e.name === 'rt' && e.state === 'subscribed'))).toEqual([]);
    expect(mine.find((e) => e.name === 'suspended')).toMatchObject({ lockHeld: false, storeOpen: false });
    expect(w.device.holdsLock(app.pid)).toBe(false);
    expect(w.device.freeze(app)).toBe('frozen');
    // One request for the identifier, however often it was submitted.
    expect([...w.device.background.refreshRequests.keys()]).toEqual([REFRESH_TASK_ID]);
    expect(w.device.background.refreshRequests.get(REFRESH_TASK_ID)).toBeGreaterThanOrEqual(3);
    expect(w.device.violations).toEqual([]);
    // The message reached the relay once and comes back to the device (its own queue) through the NSE.
    await w.device.waitEvent('nse', 'stored', (e) => e.queueId === qid && !e.duplicate, { from, timeoutMs: 20_000 });
  });

  it('silent push: relaunches a dead app into the background, skips a force-quit app, and a throttled one falls back to a visible push (NSE)', async () => {
    const w = await world();
    const app = await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    const q = w.queues[0]!;
    app.signal('SIGKILL'); // iOS killed it (jetsam): not a force-quit
    await app.whenExited();
    expect(w.device.appLaunches).toBe(1);

    let from = w.device.events.length;
    const silent = () => pushSilentOrVisible(w.gateway.url, w.device.token, { queueId: q.queueId }, { nids: [{ notifierId: q.notifierId, sealed: '' }] });
    expect(await silent()).toBe('silent');
    await w.device.waitEvent('app', 'bg-window', (e) => e.state === 'end', { from, timeoutMs: 40_000 });
    expect(w.device.appLaunches).toBe(2);
    expect(w.device.appState).not.toBe('active');
    const relaunched = w.device.events.slice(from).filter((e) => e.role === 'app');
    expect(relaunched.filter((e) => e.name === 'wake')).toEqual([]); // launched into the background, not the front
    expect(relaunched.find((e) => e.name === 'suspended')).toMatchObject({ lockHeld: false, storeOpen: false });

    // Force-quit: the gateway still delivers (APNs does not know), the device does not hand it on.
    await w.device.background.forceQuitApp();
    from = w.device.events.length;
    expect(await silent()).toBe('silent');
    expect(await silent()).toBe('silent'); // the hourly budget (3) is now spent
    expect(w.device.appLaunches).toBe(2);
    // Throttled: 429, and the sender's visible fallback launches the NSE for the queue.
    expect(await silent()).toBe('fallback');
    await w.device.waitEvent('nse', 'push-start', () => true, { from, timeoutMs: 40_000 });
    expect(w.gateway.stats().throttled).toBe(1);
    expect(w.device.background.silent.map((s) => s.outcome)).toEqual(['done', 'force-quit', 'force-quit']);
    expect(w.device.appLaunches).toBe(2);
  });
});
