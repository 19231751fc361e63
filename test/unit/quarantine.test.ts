/**
 * Poison inbound messages (docs/receive.md "Quarantine") on the fast ports: a message whose body
 * never opens is kept sealed as received in the store's quarantine, durably, and only then ACKed,
 * so the next message on its queue is delivered — on the app's GET and SUB paths, in the NSE (no
 * notification for it, not even a best-attempt one), and from the pending inbox on unlock. A
 * quarantined entry can be listed and run through the pipeline again.
 */
import { describe, expect, it } from 'vitest';
import { bytesEqual } from '../../src/core/bytes.js';
import { sealForQueue } from '../../src/core/inbound/index.js';
import type { Op } from '../../sim/history/types.js';
import { FastHarness, val } from './fast-harness.js';

/** The relay's delete of msgId and the store commit of its quarantine entry, as history indexes. */
function ackAfterQuarantine(h: FastHarness, msgId: string): { quarantined: number; acked: number } {
  const inv = h.history.find((o) => o.f === 'store.put' && o.type === 'invoke' && val(o).op === 'quarantineAdd' && val(o).msgId === msgId);
  const ok = inv && h.history.find((o) => o.f === 'store.put' && o.type === 'ok' && o.ref === inv.ref);
  const ack = h.history.find((o: Op) => o.proc === 'relay' && o.f === 'ack' && val(o).msgId === msgId);
  return { quarantined: ok?.index ?? -1, acked: ack?.index ?? -1 };
}

const delivered = (h: FastHarness) => h.events('notify', () => true).map((v) => v.msgId);

describe('quarantine: the app', () => {
  it('GET path: a body that never opens is quarantined (sealed as received, reason, queue), then ACKed; the next message on the queue is stored', async () => {
    const h = new FastHarness();
    h.w.pushesHeld = true; // no NSE: the app's wake fetch GETs them
    const poison = h.sendPoison(0);
    const good = h.sendGood(0);
    await h.start();
    expect(await h.run(() => h.w.db.messages.has(good))).toBe(true);
    const q = h.w.db.quarantine.get(poison)!;
    expect(q).toMatchObject({ msgId: poison, queueId: 'q0', reason: 'CRYPTO_AUTH_FAILED', via: 'get', attempts: 1 });
    expect(h.w.relay.deleted).toContain(poison);
    expect(h.w.db.messages.has(poison)).toBe(false);
    const o = ackAfterQuarantine(h, poison);
    expect(o.quarantined).toBeGreaterThan(0);
    expect(o.quarantined).toBeLessThan(o.acked);
    expect(h.w.relay.queued()).toEqual([]);
    // Reported, never silent; and nothing shown for it.
    expect(h.events('error', (v) => v.code === 'INBOUND_QUARANTINED', 'app')).toEqual([
      expect.objectContaining({ where: 'quarantine', msgId: poison, queueId: 'q0', reason: 'CRYPTO_AUTH_FAILED', via: 'get', fresh: true }),
    ]);
    expect(delivered(h)).toEqual([good]);
    const listed = await h.settle(h.w.app!.p.store.quarantineList('q0'));
    expect(listed.ok && listed.value.map((e) => e.msgId)).toEqual([poison]);
  });

  it('SUB path: a poison delivery is quarantined and ACKed, so the subscription goes on to the next message', async () => {
    const h = new FastHarness();
    await h.start();
    const poison = h.sendPoison(1);
    const good = h.sendGood(1);
    expect(await h.run(() => delivered(h).includes(good) && h.w.relay.queued().length === 0)).toBe(true);
    expect(h.w.db.quarantine.get(poison)).toMatchObject({ queueId: 'q1', via: 'sub', reason: 'CRYPTO_AUTH_FAILED' });
    const o = ackAfterQuarantine(h, poison);
    expect(o.quarantined).toBeLessThan(o.acked);
    expect(h.w.relay.queued()).toEqual([]);
    expect(delivered(h)).toEqual([good]);
  });

  it('the quarantined body is byte for byte what the relay sent', async () => {
    const h = new FastHarness();
    await h.start();
    const queueId = h.w.queueIds[0]!;
    const body = sealForQueue(h.w.rng.randomBytes(32), h.w.rng, queueId, { type: 'text', text: 'x' });
    const id = h.w.relay.send(queueId, body, { notification: false }).msgId;
    expect(await h.run(() => h.w.db.quarantine.has(id))).toBe(true);
    expect(bytesEqual(h.w.db.quarantine.get(id)!.sealed, body)).toBe(true);
  });

  it('retry: still unprocessable → stays (attempts bumped, reported again); a body that opens now → stored, shown, and out of the quarantine', async () => {
    const h = new FastHarness();
    const app = await h.start();
    const poison = h.sendPoison(0);
    expect(await h.run(() => h.w.db.quarantine.has(poison))).toBe(true);
    const again = await h.settle(app.retryQuarantined(poison));
    expect(again).toMatchObject({ ok: true, value: { msgId: poison, stored: 'quarantine', notified: false } });
    expect(h.w.db.quarantine.get(poison)).toMatchObject({ attempts: 2, via: 'retry' });
    // An entry that opens now (say its queue's key was wrong and has been fixed): sealed with the right key.
    const queueId = h.w.queueIds[0]!;
    const fixed = { msgId: 'x-fixed', queueId, ts: 1, flags: { notification: true }, sealed: sealForQueue(h.w.e2eKeys.get(queueId)!, h.w.rng, queueId, { type: 'text', text: 'hello again' }), reason: 'CRYPTO_AUTH_FAILED', via: 'get' };
    await h.settle(h.w.app!.p.store.quarantineAdd(fixed));
    const r = await h.settle(app.retryQuarantined('x-fixed'));
    expect(r).toMatchObject({ ok: true, value: { msgId: 'x-fixed', stored: 'store', notified: true } });
    expect(h.w.db.messages.has('x-fixed')).toBe(true);
    expect(h.w.db.quarantine.has('x-fixed')).toBe(false);
    expect(h.w.db.quarantine.has(poison)).toBe(true);
    expect(await h.settle(app.retryQuarantined('no-such-id'))).toEqual({ ok: true, value: null });
  });
});

describe('quarantine: the NSE and the locked device', () => {
  it('NSE: the poison message is quarantined and ACKed with no notification (neither content nor best-attempt); the next one on the queue is shown', async () => {
    const h = new FastHarness();
    await h.start();
    h.rules.expireApp('test'); // background time over → frozen: pushes go to the NSE
    await h.idle(3_000);
    expect(h.w.app!.p.frozen).toBe(true);
    const poison = h.sendPoison(0);
    const good = h.sendGood(0);
    expect(await h.run(() => h.w.db.messages.has(good) && h.ops('push-done', 'nse').length >= 2, 60_000)).toBe(true);
    await h.idle(40_000); // past the NSE's budget: no expiry banner may show up for the poison either
    expect(h.w.db.quarantine.get(poison)).toMatchObject({ via: 'nse', reason: 'CRYPTO_AUTH_FAILED' });
    const o = ackAfterQuarantine(h, poison);
    expect(o.quarantined).toBeLessThan(o.acked);
    expect(h.ops('notify', 'nse').map((x) => val(x).msgId)).toEqual([good]);
    expect(h.ops('notify.placeholder', 'nse').filter((x) => val(x).msgId === poison)).toEqual([]);
    expect(h.events('push-done', (v) => Number(v.quarantined) > 0, 'nse')).toHaveLength(1);
    expect(h.events('error', (v) => v.code === 'INBOUND_QUARANTINED', 'nse')).toEqual([expect.objectContaining({ msgId: poison, via: 'nse' })]);
  });

  it('locked: the poison goes to the pending inbox like any message (a generic notification); the import on unlock quarantines it', async () => {
    const h = new FastHarness();
    await h.start();
    h.rules.expireApp('test');
    await h.idle(3_000);
    h.w.setDeviceLocked(true);
    await h.idle(10);
    const poison = h.sendPoison(0);
    const good = h.sendGood(0);
    expect(await h.run(() => h.w.relay.queued().length === 0 && h.ops('push-done', 'nse').length >= 2, 60_000)).toBe(true);
    expect(h.w.inboxFiles.msgIds()).toEqual(expect.arrayContaining([poison, good]));
    // Nothing can be decrypted while locked: one generic banner per message, the poison's included (documented).
    expect(h.ops('notify', 'nse').map((x) => val(x).msgId).sort()).toEqual([poison, good].sort());
    h.rules.unlockDevice(false);
    await h.settle(h.rules.foreground());
    expect(await h.run(() => h.w.db.messages.has(good) && h.w.db.quarantine.has(poison))).toBe(true);
    expect(h.w.db.quarantine.get(poison)).toMatchObject({ via: 'import', reason: 'CRYPTO_AUTH_FAILED', queueId: 'q0' });
    expect(h.w.db.messages.has(poison)).toBe(false);
    expect(h.events('error', (v) => v.code === 'INBOUND_QUARANTINED' && v.via === 'import', 'app')).toHaveLength(1);
  });
});
