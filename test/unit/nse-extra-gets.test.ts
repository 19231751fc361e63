/**
 * 001's rule for the NSE's extra GETs (docs/receive.md "Extra GETs follow the notification flag"):
 * after a message WITHOUT the notification flag the NSE GETs again (within its cap); after the
 * first new message that carries it, it stops — the rest of the queue waits for its own push.
 * The app's fetches (no `untilNotification`) are unchanged: they drain the queue.
 */
import { describe, expect, it } from 'vitest';
import { endsNotificationFetch, fetchAndProcess, sealForQueue, type InboundDeps } from '../../src/core/inbound/index.js';
import { QueueCoordinator } from '../../src/core/queue/index.js';
import { deriveKeyRing } from '../../src/core/crypto/index.js';
import type { Host } from '../../src/core/host.js';
import { SimClock } from '../helpers/sim-clock.js';
import { FakeRelay, MemoryInbox, MemoryStore, RecordingNotifier, SeededRng, memoryLog, recordingFailpoints, type Events } from '../helpers/fakes.js';
import { FastHarness, val } from './fast-harness.js';

const E2E = new Uint8Array(32).fill(7);
const ring = deriveKeyRing(new Uint8Array(32).fill(1));

function setup() {
  const events: Events = [];
  const host: Host = { clock: new SimClock(), rng: new SeededRng(42), log: memoryLog(), failpoints: recordingFailpoints(events) };
  const relay = new FakeRelay(events);
  const transport = relay.transport();
  const store = new MemoryStore(events);
  const deps: InboundDeps = { host, store, inbox: new MemoryInbox(events), notifier: new RecordingNotifier(events), e2eKey: () => E2E, bodyKey: ring.body, logTag: 'nse' };
  const queues = new QueueCoordinator(host, transport);
  const rng = new SeededRng(9);
  /** One message per letter: `n` without the notification flag, `F` with it. */
  const load = (pattern: string) => [...pattern].map((c, i) => relay.send('q1', sealForQueue(E2E, rng, 'q1', { type: 'text', text: `${c}${i}` }), { notification: c === 'F' }).msgId);
  return { relay, transport, store, deps, queues, load };
}

describe('fetchAndProcess untilNotification (the NSE)', () => {
  it('GETs again after messages without the flag and stops right after the first one that carries it', async () => {
    const { relay, transport, deps, queues, load } = setup();
    const ids = load('nnFF');
    const out = await fetchAndProcess(deps, queues, 'q1', { maxExtraGets: 3, untilNotification: true });
    expect(out.map((o) => o.msgId)).toEqual(ids.slice(0, 3));
    // No fourth GET: the push was for the third message; the fourth waits for its own push.
    expect(transport.gets).toBe(3);
    expect(relay.pending('q1').map((m) => m.msgId)).toEqual([ids[3]]);
  });

  it('a message with the flag first: exactly one GET', async () => {
    const { transport, deps, queues, load } = setup();
    load('FFF');
    expect((await fetchAndProcess(deps, queues, 'q1', { maxExtraGets: 3, untilNotification: true })).length).toBe(1);
    expect(transport.gets).toBe(1);
  });

  it('the cap still bounds a run of messages without the flag', async () => {
    const { relay, transport, deps, queues, load } = setup();
    const ids = load('nnnnnnF');
    const out = await fetchAndProcess(deps, queues, 'q1', { maxExtraGets: 3, untilNotification: true });
    expect(out.map((o) => o.msgId)).toEqual(ids.slice(0, 4));
    expect(transport.gets).toBe(4);
    expect(relay.pending('q1')).toHaveLength(3);
  });

  it('stops at an empty queue after messages without the flag', async () => {
    const { transport, deps, queues, load } = setup();
    load('nn');
    expect((await fetchAndProcess(deps, queues, 'q1', { maxExtraGets: 3, untilNotification: true })).length).toBe(2);
    expect(transport.gets).toBe(3); // the third found the queue empty
  });

  it('a duplicate that carries the flag (stored, not ACKed yet) does not end the loop: the push is for a later message', async () => {
    const { relay, deps, queues, load, store } = setup();
    const ids = load('FF');
    // The other process stored the first message but its ACK has not landed.
    const first = relay.pending('q1')[0]!;
    await store.putMessage({ msgId: first.msgId, queueId: 'q1', ts: first.ts, flags: first.flags, sealed: new Uint8Array(1) });
    const out = await fetchAndProcess(deps, queues, 'q1', { maxExtraGets: 3, untilNotification: true });
    expect(out.map((o) => [o.msgId, o.stored])).toEqual([
      [ids[0], 'duplicate'],
      [ids[1], 'store'],
    ]);
    expect(endsNotificationFetch({ notification: true }, { msgId: 'x', stored: 'duplicate', notified: false })).toBe(false);
    expect(endsNotificationFetch({ notification: false }, { msgId: 'x', stored: 'store', notified: false })).toBe(false);
    expect(endsNotificationFetch({ notification: true }, { msgId: 'x', stored: 'inbox', notified: true })).toBe(true);
    // Shown before (the marker or the store's record already there), its ACK lost: a re-delivery, the loop goes on.
    expect(endsNotificationFetch({ notification: true }, { msgId: 'x', stored: 'inbox', notified: false, redelivered: true })).toBe(false);
    expect(endsNotificationFetch({ notification: true }, { msgId: 'x', stored: 'store', notified: false, redelivered: true })).toBe(false);
    expect(endsNotificationFetch({ notification: true }, { msgId: 'x', stored: 'store', notified: false })).toBe(true); // e.g. a flagged receipt
    expect(endsNotificationFetch({ notification: true }, { msgId: 'x', stored: 'quarantine', notified: false })).toBe(true);
  });

  it('without untilNotification (the app) the loop drains as before', async () => {
    const { transport, deps, queues, load } = setup();
    load('FFF');
    expect((await fetchAndProcess(deps, queues, 'q1', { maxExtraGets: 3 })).length).toBe(3);
    expect(transport.gets).toBe(4);
  });
});

describe('the NSE session follows the flag (fast ports, shipping NseService)', () => {
  it('one push: GETs past the messages without the flag, stops after the flagged one; the next push fetches the next', async () => {
    const h = new FastHarness({ queues: 1 });
    await h.start();
    h.rules.expireApp('test'); // background time over → frozen: pushes go to the NSE
    await h.idle(3_000);
    expect(h.w.app!.p.frozen).toBe(true);
    h.w.pushesHeld = true; // the test hands the pushes over one by one
    const a = h.sendGood(0, false);
    const b = h.sendGood(0, false);
    const c = h.sendGood(0, true);
    const d = h.sendGood(0, true);
    h.w.heldPushes.length = 0;
    h.w.pushesHeld = false;
    h.w.deliverPush('q0');
    expect(await h.run(() => h.ops('push-done', 'nse').length === 1, 60_000)).toBe(true);
    const gets = () => h.history.filter((o) => o.proc === 'nse' && o.f === 'get' && o.type === 'ok' && val(o).msgId);
    expect(gets().map((o) => val(o).msgId)).toEqual([a, b, c]);
    expect(h.w.relay.queued().map((m) => m.msgId)).toEqual([d]);
    // Shown is decided by the content (all three are text), not by the flag.
    expect(h.ops('notify', 'nse').map((o) => val(o).msgId)).toEqual([a, b, c]);
    h.w.deliverPush('q0');
    expect(await h.run(() => h.ops('push-done', 'nse').length === 2, 60_000)).toBe(true);
    expect(gets().map((o) => val(o).msgId)).toEqual([a, b, c, d]);
    expect(h.w.relay.queued()).toEqual([]);
  });
});

describe('operation classes of a receive (docs/phase-machine.md "Operation classes")', () => {
  it("the NSE's push-triggered GET..ACK is a notificationNetwork op; the app's is a receiveNetwork op", async () => {
    const h = new FastHarness({ queues: 1 });
    const seen: string[] = [];
    const classes = (role: 'app' | 'nse') => {
      const ph = (role === 'app' ? h.w.app : h.w.nse)!.p.rt.phase;
      return `${role}: notificationNetwork=${ph.inFlight('notificationNetwork')} receiveNetwork=${ph.inFlight('receiveNetwork')}`;
    };
    h.w.pushesHeld = true; // the app's launch wake GETs the first message
    h.sendGood(0);
    h.w.onHit = (role, name) => {
      if (name === 'net.get.ok') seen.push(classes(role));
      return false;
    };
    await h.start();
    h.w.heldPushes.length = 0;
    h.w.pushesHeld = false;
    h.rules.expireApp('test');
    await h.idle(3_000);
    h.sendGood(0);
    expect(await h.run(() => h.ops('push-done', 'nse').length === 1, 60_000)).toBe(true);
    expect(seen).toContain('app: notificationNetwork=0 receiveNetwork=1');
    expect(seen).toContain('nse: notificationNetwork=1 receiveNetwork=0');
    expect(seen.filter((x) => x.startsWith('nse')).every((x) => x === 'nse: notificationNetwork=1 receiveNetwork=0')).toBe(true);
  });
});
