import { describe, expect, it } from 'vitest';
import type { World } from '../../src/cli/world.js';
import { sealForQueue } from '../../src/core/inbound/index.js';
import { nodeRng } from '../../src/node/host.js';
import { readDeviceInbox, readDeviceStore, suspendAndFreezeApp, useWorld } from '../helpers/e2e-world.js';

/**
 * The device after a kill, as iOS does it (issue: the app was never relaunched after a SIGKILL,
 * so what it should have fetched and the inbox it should have imported stayed behind).
 */
describe('e2e: relaunch after a kill', () => {
  const world = useWorld();

  it('a SIGKILLed app is relaunched by the next foreground: a new process wakes, fetches and imports', async () => {
    const w = await world({ queues: 1, procConfig: { nseGraceMs: 300 } });
    const d = w.device;
    const first = await d.launchApp();
    await d.waitEvent('app', 'wake');
    await d.appLifecycle('background');
    await first.kill(); // from outside, while in the background
    expect(first.exitSignal).toBe('SIGKILL');

    // While it is dead and the device locked: the NSE takes the push and writes the pending inbox.
    d.lock();
    const from = d.events.length;
    const msgId = await w.sender.sendWithResult(w.queues[0]!.queueId, seal(w, 'while dead'), { notification: true }, { clientId: 'c1' });
    await d.waitEvent('nse', 'inboxed', (e) => e.msgId === msgId.msgId, { from, timeoutMs: 30_000 });
    await d.waitEvent('nse', 'suspended', () => true, { from, timeoutMs: 30_000 });

    d.unlock();
    const from2 = d.events.length;
    await d.appLifecycle('active');
    expect(d.app).not.toBe(first);
    expect(d.app!.alive).toBe(true);
    expect(d.appLaunches).toBe(2);
    const imp = await d.waitEvent('app', 'imported', (e) => e.pid === d.app!.pid, { from: from2, timeoutMs: 30_000 });
    expect(imp.count).toBe(1);
    await d.waitEvent('app', 'wake', (e) => e.pid === d.app!.pid, { from: from2, timeoutMs: 30_000 });
    // And it is in front: a message now goes over its subscription, not to the NSE.
    const from3 = d.events.length;
    await w.send(0, 'after relaunch');
    await d.waitEvent('app', 'stored', (e) => e.via === 'sub', { from: from3, timeoutMs: 30_000 });
    expect(readDeviceInbox(w)).toEqual([]);
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()].sort()).toEqual(['after relaunch', 'while dead']);
  });

  it('a SIGKILLed NSE is relaunched by the next push; its inbox records are imported on unlock', async () => {
    const w = await world({ queues: 1, procConfig: { nseGraceMs: 2_000 } });
    const d = w.device;
    await suspendAndFreezeApp(w);
    d.lock();
    const from = d.events.length;
    await w.send(0, 'locked 1');
    await w.send(0, 'locked 2');
    await d.waitCount('nse', 'inboxed', 2, () => true, { from, timeoutMs: 30_000 });
    const killed = d.nse!;
    await killed.kill(); // after its inbox writes, before it suspended (grace 2 s)
    expect(killed.events.some((e) => e.name === 'suspended')).toBe(false);

    const from2 = d.events.length;
    await w.send(0, 'locked 3');
    await d.waitEvent('nse', 'inboxed', () => true, { from: from2, timeoutMs: 30_000 });
    expect(d.nseHistory.length).toBe(2);
    expect(d.nse).not.toBe(killed);

    d.unlock();
    const from3 = d.events.length;
    await d.appLifecycle('active');
    await d.waitEvent('app', 'imported', () => true, { from: from3, timeoutMs: 30_000 });
    await d.waitEvent('app', 'wake', () => true, { from: from3, timeoutMs: 30_000 });
    expect(readDeviceInbox(w)).toEqual([]);
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()].sort()).toEqual(['locked 1', 'locked 2', 'locked 3']);
    expect(snap.integrity).toBe('ok');
  });
});

function seal(w: World, text: string): Uint8Array {
  return sealForQueue(w.queues[0]!.e2e, nodeRng, w.queues[0]!.queueId, { type: 'text', text });
}
