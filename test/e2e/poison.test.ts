/**
 * Real processes: a message whose body never opens (sealed with a key nobody holds) is kept
 * sealed in the store's quarantine, then ACKed, and the next message on its queue is delivered —
 * by the app's subscription and by the NSE, which shows nothing for it.
 */
import { describe, expect, it } from 'vitest';
import { bytesEqual } from '../../src/core/bytes.js';
import { sealForQueue } from '../../src/core/inbound/index.js';
import type { QuarantineEntry } from '../../src/core/session/index.js';
import { nodeRng } from '../../src/node/host.js';
import type { World } from '../../src/cli/world.js';
import { readDeviceStore, relayHasMessage, suspendAndFreezeApp, useWorld, withStoreOf } from '../helpers/e2e-world.js';

/** Send a body sealed for queue q with a random key: authentic for the relay, never opens for the device. */
async function sendPoison(w: World, q: number): Promise<Uint8Array> {
  const queueId = w.queues[q]!.queueId;
  const body = sealForQueue(nodeRng.randomBytes(32), nodeRng, queueId, { type: 'text', text: 'nobody can read this' });
  if (!w.sender.connected) await w.sender.connect();
  await w.sender.send(queueId, body, { notification: true });
  return body;
}

function quarantine(w: World): Promise<QuarantineEntry[]> {
  return withStoreOf(w.device, (store) => store.quarantineList());
}

describe('e2e: a poison message is quarantined and its queue moves on', () => {
  const world = useWorld();

  it('app in front (SUB): quarantined sealed as received, ACKed, reported; the next message on the queue is delivered', async () => {
    const w = await world({ mode: 'instant' });
    await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    const from = w.device.events.length;
    const body = await sendPoison(w, 0);
    await w.send(0, 'after the poison');
    const q = await w.device.waitEvent('app', 'error', (e) => e.code === 'INBOUND_QUARANTINED', { from });
    expect(q).toMatchObject({ where: 'quarantine', reason: 'CRYPTO_AUTH_FAILED', via: 'sub', queueId: w.queues[0]!.queueId });
    const stored = await w.device.waitEvent('app', 'stored', (e) => !e.duplicate, { from });
    await w.device.waitEvent('app', 'acked', (e) => e.msgId === stored.msgId, { from });
    const evs = w.device.events.slice(from);
    // The poison's ACK came after its quarantine, before the next message was stored.
    const qi = evs.findIndex((e) => e.name === 'error' && e.code === 'INBOUND_QUARANTINED');
    const ackPoison = evs.findIndex((e) => e.name === 'acked' && e.msgId === q.msgId);
    const storedNext = evs.findIndex((e) => e.name === 'stored' && e.msgId === stored.msgId);
    expect(qi).toBeLessThan(ackPoison);
    expect(ackPoison).toBeLessThan(storedNext);
    expect(evs.filter((e) => e.name === 'notification' && e.msgId === q.msgId)).toEqual([]);
    expect(await relayHasMessage(w, 0)).toBe(false);
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()]).toEqual(['after the poison']);
    const qs = await quarantine(w);
    expect(qs.map((x) => [x.msgId, x.reason, x.via])).toEqual([[q.msgId, 'CRYPTO_AUTH_FAILED', 'sub']]);
    expect(bytesEqual(qs[0]!.sealed, body)).toBe(true);
  });

  it('NSE (app frozen): the poison is quarantined and ACKed with no notification; the next message is shown', async () => {
    const w = await world({ mode: 'instant', procConfig: { nseGraceMs: 300 } });
    await suspendAndFreezeApp(w);
    const from = w.device.events.length;
    await sendPoison(w, 0);
    await w.send(0, 'shown after the poison');
    const q = await w.device.waitEvent('nse', 'error', (e) => e.code === 'INBOUND_QUARANTINED', { from, timeoutMs: 40_000 });
    expect(q).toMatchObject({ via: 'nse', reason: 'CRYPTO_AUTH_FAILED' });
    const note = await w.device.waitEvent('nse', 'notification', (e) => e.body === 'shown after the poison', { from, timeoutMs: 40_000 });
    await w.device.waitEvent('nse', 'suspended', () => true, { from });
    const evs = w.device.events.slice(from);
    expect(evs.filter((e) => e.name === 'notification').map((e) => e.msgId)).toEqual([note.msgId]);
    expect(evs.findIndex((e) => e.name === 'acked' && e.msgId === q.msgId)).toBeGreaterThan(evs.indexOf(q));
    expect(await relayHasMessage(w, 0)).toBe(false);
    expect(w.device.violations).toEqual([]);
    expect((await quarantine(w)).map((x) => [x.msgId, x.via])).toEqual([[q.msgId, 'nse']]);
  });
});
