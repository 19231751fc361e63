import { describe, expect, it } from 'vitest';
import type { SendStoredEvent } from '../../src/relay/connection.js';
import { readDeviceStore, relayHasMessage, useWorld } from '../helpers/e2e-world.js';

/**
 * The lost-OK case end to end: the relay commits the app's SEND and then the
 * app's socket is cut before the OK (relay-side tap). The app reconnects, its
 * wake sequence resends the outbox item with the same clientId, the relay
 * answers OK without storing again → exactly one message is delivered.
 */
describe('e2e: outbox resend after a lost OK', () => {
  const world = useWorld();

  it('delivers exactly one message', async () => {
    // The app holds the sender credential of its own queue: what it sends comes back to it.
    const w = await world({ appCanSend: true });
    await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    const qid = w.queues[0]!.queueId;
    const clientId = 'lost-ok-1';

    const seen: SendStoredEvent[] = [];
    w.relay.setSendTap((e) => {
      if (e.clientId !== clientId) return;
      seen.push(e);
      return seen.length === 1 ? 'drop' : undefined; // the first attempt's OK never arrives
    });

    const from = w.device.events.length;
    w.device.app!.send({ type: 'send', queueId: qid, text: 'exactly once', clientId });
    await w.device.waitEvent('app', 'outbox', (e) => e.clientId === clientId && e.state === 'retry', { from });
    const sent = await w.device.waitEvent('app', 'outbox', (e) => e.clientId === clientId && e.state === 'sent', { from, timeoutMs: 40_000 });
    expect(sent.duplicate).toBe(true);

    // Relay side: one commit, one deduped repeat, same msgId.
    expect(seen.map((e) => e.duplicate)).toEqual([false, true]);
    expect(seen[1]!.msgId).toBe(seen[0]!.msgId);

    // The one message reaches the app (GET on the reconnect wake, or SUB) and is ACKed.
    const msgId = seen[0]!.msgId;
    await w.device.waitEvent('app', 'stored', (e) => e.msgId === msgId && !e.duplicate, { from, timeoutMs: 40_000 });
    await w.device.waitEvent('app', 'acked', (e) => e.msgId === msgId, { from, timeoutMs: 40_000 });
    expect(await relayHasMessage(w, 0)).toBe(false);

    const events = w.device.events.slice(from);
    expect(events.filter((e) => e.name === 'outbox' && e.clientId === clientId && e.state === 'sent')).toHaveLength(1);
    expect(events.filter((e) => e.name === 'stored' && !e.duplicate)).toHaveLength(1);
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()]).toEqual(['exactly once']);
    expect(snap.integrity).toBe('ok');
  });
});
