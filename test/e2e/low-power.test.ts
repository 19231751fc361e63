import { describe, expect, it } from 'vitest';
import { readDeviceStore, relayHasMessage, useWorld } from '../helpers/e2e-world.js';

describe('e2e: low-power mode (signed status poll, no SUB)', () => {
  const world = useWorld();

  it('polls the signed status endpoint and fetches only queues with a payload', async () => {
    const w = await world({ mode: 'lowPower', queues: 2, procConfig: { pollIntervalMs: 100 } });
    await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    // Idle polls say "nothing" for both queues.
    await w.device.waitEvent('app', 'sync', (e) => e.stage === 'poll' && e.hasPayload === false);
    const from = w.device.events.length;
    await w.send(1, 'low power 1', { notification: false });
    await w.send(1, 'low power 2', { notification: false });
    const stored = await w.device.waitCount('app', 'stored', 2, (e) => e.via === 'get' && !e.duplicate, { from });
    expect(new Set(stored.map((e) => e.msgId)).size).toBe(2);
    // GET → store → ACK: wait for the relay to have been told.
    await w.device.waitEvent('app', 'sync', (e) => e.stage === 'merged' && e.count === 2, { from });
    const after = w.device.events.slice(from);
    // Fetched because a poll said so, on the queue that had it; the empty queue was never fetched.
    expect(after.some((e) => e.name === 'sync' && e.stage === 'poll' && e.hasPayload === true && e.queueId === w.queues[1]!.queueId)).toBe(true);
    expect(after.some((e) => e.name === 'sync' && e.stage === 'start' && e.queueId === w.queues[0]!.queueId)).toBe(false);
    expect(after.some((e) => e.name === 'rt' && e.state === 'subscribed')).toBe(false);
    expect(await relayHasMessage(w, 1)).toBe(false);
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()].sort()).toEqual(['low power 1', 'low power 2']);
  });

  it('a background window polls the real signed endpoint once per queue: nothing queued, no notification; a message waiting, one local notification and nothing downloaded', async () => {
    const w = await world({ mode: 'lowPower', queues: 2, procConfig: { pollIntervalMs: 100, backgroundRefresh: true } });
    const app = await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    let from = w.device.events.length;
    await w.device.appLifecycle('suspend');
    await w.device.waitEvent('app', 'suspended', () => true, { from });
    expect(w.device.freeze(app)).toBe('frozen');

    // Nothing at the relay: every queue answers has_payload false, no notification.
    from = w.device.events.length;
    expect(await w.device.background.grant('refresh', 5_000)).toBe('done');
    let mine = w.device.events.slice(from).filter((e) => e.role === 'app');
    const polls = mine.filter((e) => e.name === 'sync' && e.stage === 'poll' && e.window === true);
    expect(polls.map((e) => [e.queueId, e.hasPayload]).sort()).toEqual(w.queues.map((q) => [q.queueId, false]).sort());
    expect(mine.filter((e) => e.name === 'local-notification')).toEqual([]);
    expect(w.device.freeze(app)).toBe('frozen');

    // A message without the notification flag (no push, no NSE) waits on queue 1.
    await w.send(1, 'waiting for the front', { notification: false });
    from = w.device.events.length;
    expect(await w.device.background.grant('refresh', 5_000)).toBe('done');
    mine = w.device.events.slice(from).filter((e) => e.role === 'app');
    expect(mine.filter((e) => e.name === 'local-notification').map((e) => [e.queueId, e.reason])).toEqual([[w.queues[1]!.queueId, 'has_payload']]);
    // Push-only: nothing fetched or stored, the message is still at the relay.
    expect(mine.filter((e) => e.name === 'stored' || e.name === 'wake' || (e.name === 'sync' && e.stage === 'start'))).toEqual([]);
    expect(await relayHasMessage(w, 1)).toBe(true);
    expect(mine.find((e) => e.name === 'suspended')).toMatchObject({ lockHeld: false, storeOpen: false });
    expect(w.device.violations).toEqual([]);
  });
});
