/**
 * Read on one device, cleared on the others (src/core/session/read-sync.ts, docs/notifications.md
 * "Read on another device"), on the fast ports with the shipping sessions. One fast world is one
 * device: q0 is a conversation (key `c0`), q1 is this device's device-sync queue. The "other
 * device" is played by the test: it puts read markers into q1 (sealed with q1's key), and this
 * device's app is linked to a sync queue of the other device (here q1 too, so what it sends is
 * what it receives — the send side and the receive side are each checked on their own).
 */
import { describe, expect, it } from 'vitest';
import { EnvelopeKind, seal } from '../../src/core/crypto/index.js';
import { toHex } from '../../src/core/bytes.js';
import { decodeReadMarker } from '../../src/core/session/read-sync.js';
import { encodeReadMarker } from '../../src/core/session/app/read-send.js';
import { appAway, center, FastHarness, val } from './fast-harness.js';

function linkedWorld(): FastHarness {
  const h = new FastHarness({ queues: 2 });
  const q1Key = toHex(h.w.e2eKeys.get('q1')!);
  h.w.configure = (role, cfg) => ({
    ...cfg,
    queues: cfg.queues.map((q) => (q.queueId === 'q0' ? { ...q, conversation: 'c0' } : { ...q, deviceSync: true })),
    ...(role === 'app' ? { linkedDevices: [{ queueId: 'q1', senderKey: 'snd-q1', e2eKey: q1Key }] } : {}),
  });
  return h;
}

/** The other device read conversation c0 up to `upTo`: its marker lands in this device's sync queue, pushed. */
function markerFromOtherDevice(h: FastHarness, upTo: number, conversation = 'c0'): string {
  const body = seal(h.w.e2eKeys.get('q1')!, h.w.rng, { kind: EnvelopeKind.e2eBody, recordId: '', queueId: 'q1' }, encodeReadMarker({ conversation, upTo }));
  return h.w.relay.send('q1', body, { notification: true }).msgId;
}

const tsOf = (h: FastHarness, msgId: string) => h.w.db.messages.get(msgId)!.ts;



describe('read marker: encoding', () => {
  it('round-trips, and refuses anything that is not a read marker (CONTENT_MALFORMED)', () => {
    expect(decodeReadMarker(encodeReadMarker({ conversation: 'c0', upTo: 42 }))).toEqual({ conversation: 'c0', upTo: 42 });
    const bad = ['{"type":"text","text":"x"}', '{"type":"read","conversation":"","upTo":1}', '{"type":"read","conversation":"c","upTo":-1}', 'nope'];
    for (const b of bad) expect(() => decodeReadMarker(new TextEncoder().encode(b))).toThrow(expect.objectContaining({ code: 'CONTENT_MALFORMED' }));
  });
});

describe('read on another device: the receiving side', () => {
  it("the NSE applies a marker: the conversation's copies up to its ts become read, their notifications go, the badge drops; nothing is shown for it", async () => {
    const h = linkedWorld();
    await appAway(h);
    const a1 = h.sendGood(0);
    const a2 = h.sendGood(0);
    expect(await h.run(() => h.ops('notify', 'nse').length === 2, 60_000)).toBe(true);
    expect(center(h).badge).toBe(2);
    const a3 = h.sendGood(0);
    expect(await h.run(() => h.ops('notify', 'nse').length === 3, 60_000)).toBe(true);
    // The other device read up to a2 (a3 had not reached it): a3 stays.
    const upTo = tsOf(h, a2);
    expect(tsOf(h, a3)).toBeGreaterThan(upTo);
    const marker = markerFromOtherDevice(h, upTo);
    expect(await h.run(() => h.events('thread-read', (v) => v.remote === true, 'nse').length === 1, 60_000)).toBe(true);
    const tr = h.events('thread-read', (v) => v.remote === true, 'nse')[0]!;
    expect(tr).toMatchObject({ threadId: 'q0', queueId: 'q0', badge: 1 });
    expect((tr.msgIds as string[]).sort()).toEqual([a1, a2].sort());
    const c = center(h);
    expect(c.inThread('q0').map((d) => d.msgId)).toEqual([a3]);
    expect(c.badge).toBe(1);
    // The marker: stored without the flag (not counted), ACKed, never shown, no best-attempt banner.
    await h.idle(5_000);
    expect(h.w.db.messages.get(marker)?.flags.notification).toBe(false);
    expect(h.w.db.unread()).toBe(1);
    expect(h.w.relay.queued()).toEqual([]);
    expect(h.history.filter((o) => (o.f === 'notify' || o.f === 'notify.placeholder') && val(o).msgId === marker)).toEqual([]);
    expect(h.history.filter((o) => o.f === 'notify.placeholder')).toEqual([]);
  });

  it('a marker for a conversation this device does not have, or one that does not parse, is ACKed and ignored', async () => {
    const h = linkedWorld();
    await appAway(h);
    h.sendGood(0);
    expect(await h.run(() => h.ops('notify', 'nse').length === 1, 60_000)).toBe(true);
    markerFromOtherDevice(h, 1e12, 'c9');
    expect(await h.run(() => h.w.relay.queued().length === 0, 60_000)).toBe(true);
    await h.idle(3_000);
    expect(h.events('thread-read', () => true)).toEqual([]);
    expect(h.w.db.unread()).toBe(1);
  });

  it('while locked the NSE keeps the marker in the pending inbox without a banner; the import on unlock applies it', async () => {
    const h = linkedWorld();
    await appAway(h);
    const a1 = h.sendGood(0);
    expect(await h.run(() => h.ops('notify', 'nse').length === 1, 60_000)).toBe(true);
    h.w.setDeviceLocked(true);
    await h.idle(1_000);
    const marker = markerFromOtherDevice(h, tsOf(h, a1));
    expect(await h.run(() => h.events('inboxed', (v) => v.msgId === marker, 'nse').length === 1 || h.ops('inbox.append').some((o) => val(o).msgId === marker), 60_000)).toBe(true);
    await h.idle(3_000);
    expect(h.history.filter((o) => (o.f === 'notify' || o.f === 'notify.placeholder') && val(o).msgId === marker)).toEqual([]);
    expect(h.ops('notify', 'nse').length).toBe(1);
    expect(h.events('thread-read', () => true)).toEqual([]);
    // Unlock and open the app: its wake imports the inbox, and the import applies the marker.
    h.rules.unlockDevice(false);
    await h.settle(h.rules.foreground(true));
    expect(await h.run(() => h.events('thread-read', (v) => v.remote === true, 'app').length === 1, 60_000)).toBe(true);
    expect(h.events('thread-read', (v) => v.remote === true, 'app')[0]).toMatchObject({ queueId: 'q0', msgIds: [a1] });
    expect(h.w.db.read.has(a1)).toBe(true);
    expect(h.w.db.messages.get(marker)?.flags.notification).toBe(false);
    expect(h.w.db.unread()).toBe(0);
  });
});

describe('read on another device: the sending side', () => {
  it('a tap reads the thread here and sends one marker per linked device, up to the last stored ts, with the notification flag', async () => {
    const h = linkedWorld();
    await appAway(h);
    h.sendGood(0);
    const a2 = h.sendGood(0);
    expect(await h.run(() => h.ops('notify', 'nse').length === 2, 60_000)).toBe(true);
    const sendsBefore = h.ops('send', 'app').length;
    void h.rules.tap('q0');
    expect(await h.run(() => h.events('read-sync', () => true, 'app').length === 1, 60_000)).toBe(true);
    expect(h.events('read-sync', () => true, 'app')[0]).toMatchObject({ state: 'sent', queueId: 'q0', upTo: tsOf(h, a2), devices: 1, of: 1 });
    const sent = h.ops('send', 'app').slice(sendsBefore).filter((o) => o.type === 'ok');
    expect(sent.map((o) => val(o).queueId)).toEqual(['q1']);
    // Here it comes back on q1 (linked to itself): applied, nothing new to read, nothing shown, not counted.
    expect(await h.run(() => h.events('thread-read', (v) => v.remote === true).length === 1, 60_000)).toBe(true);
    expect(h.events('thread-read', (v) => v.remote === true)[0]).toMatchObject({ queueId: 'q0', msgIds: [], badge: 0 });
    const markerId = val(sent[0]!).msgId as string;
    await h.idle(3_000);
    expect(h.w.db.messages.get(markerId)?.flags.notification).toBe(false);
    expect(h.w.db.unread()).toBe(0);
  });

  it('a queue without a conversation, or no linked device: a tap sends nothing', async () => {
    const h = new FastHarness({ queues: 1 });
    await appAway(h);
    h.sendGood(0);
    expect(await h.run(() => h.ops('notify', 'nse').length === 1, 60_000)).toBe(true);
    void h.rules.tap('q0');
    expect(await h.run(() => h.events('thread-read', () => true, 'app').length === 1, 60_000)).toBe(true);
    await h.idle(2_000);
    expect(h.events('read-sync', () => true)).toEqual([]);
    expect(h.ops('send', 'app')).toEqual([]);
  });
});
