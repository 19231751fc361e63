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
});
