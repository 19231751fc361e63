/**
 * Real processes: the outbox refuses input the relay would refuse for its size at enqueue — a
 * 70,000-character message used to get PROTO_TOO_LARGE on every drain and jam every message
 * behind it — and the sends after it go out.
 */
import { describe, expect, it } from 'vitest';
import { readDeviceStore, useWorld, withStoreOf } from '../helpers/e2e-world.js';
import type { World } from '../../src/cli/world.js';

/** The device store's outbox rows, read from the test process. */
function outboxRows(w: World): Promise<{ pending: string[]; sent: string[]; failed: string[] }> {
  const ids = (xs: { clientId: string }[]) => xs.map((x) => x.clientId);
  return withStoreOf(w.device, async (store) => ({ pending: ids(await store.outboxPending()), sent: ids(await store.outboxList('sent')), failed: ids(await store.outboxList('failed')) }));
}

describe('e2e: the outbox refuses a too-large message at enqueue', () => {
  const world = useWorld();

  it('a 70,000-character send fails OUTBOX_TOO_LARGE naming its clientId; the sends after it are delivered', async () => {
    const w = await world({ appCanSend: true });
    await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    const qid = w.queues[0]!.queueId;
    const from = w.device.events.length;

    w.device.app!.send({ type: 'send', queueId: qid, text: 'x'.repeat(70_000), clientId: 'huge-1' });
    w.device.app!.send({ type: 'send', queueId: qid, text: 'after the big one', clientId: 'after-1' });
    w.device.app!.send({ type: 'send', queueId: qid, text: 'and one more', clientId: 'after-2' });

    const err = await w.device.waitEvent('app', 'error', (e) => e.where === 'send', { from });
    expect(err).toMatchObject({ code: 'OUTBOX_TOO_LARGE', clientId: 'huge-1', queueId: qid });
    for (const id of ['after-1', 'after-2']) await w.device.waitEvent('app', 'outbox', (e) => e.clientId === id && e.state === 'sent', { from });
    await w.device.waitCount('app', 'stored', 2, (e) => e.via === 'sub' && !e.duplicate, { from });

    const evs = w.device.events.slice(from);
    // Nothing was queued for it: no "sending", no retry, no dead letter.
    expect(evs.filter((e) => e.name === 'outbox' && e.clientId === 'huge-1')).toEqual([]);
    // The refusal came first; the later sends were never held behind it.
    const refused = evs.findIndex((e) => e.name === 'error' && e.clientId === 'huge-1');
    const firstSent = evs.findIndex((e) => e.name === 'outbox' && e.state === 'sent');
    expect(refused).toBeLessThan(firstSent);
    expect(evs.filter((e) => e.name === 'outbox' && e.state === 'retry')).toEqual([]);

    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()].sort()).toEqual(['after the big one', 'and one more']);
    const rows = await outboxRows(w);
    expect(rows).toEqual({ pending: [], sent: ['after-1', 'after-2'], failed: [] });
  });
});
