import { describe, expect, it } from 'vitest';
import { readDeviceStore, useWorld } from '../helpers/e2e-world.js';

describe('e2e: the app outbox', () => {
  const world = useWorld();

  it('queues with a client id, shows sending, resends after the relay was down, and is delivered once', async () => {
    // The app holds the sender credential of its own queue: what it sends comes back to it.
    const w = await world({ appCanSend: true });
    await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    const qid = w.queues[0]!.queueId;

    let from = w.device.events.length;
    w.device.app!.send({ type: 'send', queueId: qid, text: 'hello from the app', clientId: 'c-1' });
    await w.device.waitEvent('app', 'outbox', (e) => e.clientId === 'c-1' && e.state === 'sending', { from });
    await w.device.waitEvent('app', 'outbox', (e) => e.clientId === 'c-1' && e.state === 'sent', { from });
    await w.device.waitEvent('app', 'stored', (e) => e.via === 'sub' && !e.duplicate, { from });

    // Relay down: the send fails, the item stays "sending"; reconnect → wake → drain sends it.
    from = w.device.events.length;
    await w.relay.close();
    await w.device.waitEvent('app', 'rt', (e) => e.state === 'reconnecting' || e.state === 'degraded', { from });
    w.device.app!.send({ type: 'send', queueId: qid, text: 'sent while offline', clientId: 'c-2' });
    await w.device.waitEvent('app', 'outbox', (e) => e.clientId === 'c-2' && e.state === 'retry', { from });
    // Re-queueing the same client id is a no-op (idempotent enqueue).
    w.device.app!.send({ type: 'send', queueId: qid, text: 'sent while offline', clientId: 'c-2' });
    await w.restartRelay();
    await w.device.waitEvent('app', 'outbox', (e) => e.clientId === 'c-2' && e.state === 'sent', { from, timeoutMs: 40_000 });
    await w.device.waitEvent('app', 'stored', (e) => !e.duplicate && e.msgId !== undefined, { from, timeoutMs: 40_000 });
    const sentEvents = w.device.events.filter((e) => e.name === 'outbox' && e.clientId === 'c-2' && e.state === 'sent');
    expect(sentEvents.length).toBe(1);
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()].sort()).toEqual(['hello from the app', 'sent while offline']);
  });
});
