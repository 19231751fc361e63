/**
 * The fast world's signed status endpoint (sim/fast/status.ts) under the shipping low-power
 * poller (src/core/session/app/low-power.ts): the app signs each poll with its queue's key and
 * gets `has_payload` from the fast relay's queues, through the same `status` port the Node host
 * plugs in. So a low-power background window posts its local notification only when the relay
 * holds a message, and the foreground loop fetches only the queues that hold one.
 */
import { describe, expect, it } from 'vitest';
import { FastWindows } from '../../sim/fast/windows.js';
import { FastHarness } from './fast-harness.js';

async function backgroundedLowPower() {
  const h = new FastHarness({ mode: 'low-power', queues: 2 });
  const app = await h.start();
  const win = new FastWindows(h.w, h.rules);
  h.rules.background();
  await h.run(() => h.events('left-front', () => true, 'app').length > 0);
  await h.settle(win.settings(true));
  return { h, app, win };
}

const windowEnds = (h: FastHarness) => h.events('bg-window', (v) => v.state === 'end', 'app');
const polls = (h: FastHarness, from: number) => h.history.slice(from).filter((o) => o.proc === 'app' && o.f === 'status.poll' && o.type === 'ok');

describe('fast mode: the status endpoint answers the low-power background window', () => {
  it('nothing at the relay: the window polls every queue, each answers has_payload false, no local notification', async () => {
    const { h, win } = await backgroundedLowPower();
    expect(h.w.relay.queued()).toEqual([]);
    const from = h.history.length;
    await h.settle(win.refresh());
    expect(windowEnds(h)).toEqual([expect.objectContaining({ kind: 'refresh', polled: 2, notified: 0 })]);
    expect(h.events('local-notification', () => true, 'app')).toEqual([]);
    expect(polls(h, from).map((o) => o.value)).toEqual([
      { queueId: 'q0', status: 200, has_payload: false },
      { queueId: 'q1', status: 200, has_payload: false },
    ]);
    expect(h.w.status.answered).toEqual({ hasPayload: 0, empty: 2, refused: 0 });
  });

  it('a message waiting on one queue: one local notification for that queue, nothing downloaded', async () => {
    const { h, win } = await backgroundedLowPower();
    const msgId = h.sendGood(1, false); // no notification flag: no push, it stays at the relay
    const from = h.history.length;
    await h.settle(win.refresh());
    expect(windowEnds(h)).toEqual([expect.objectContaining({ kind: 'refresh', polled: 2, notified: 1 })]);
    expect(h.events('local-notification', () => true, 'app')).toEqual([expect.objectContaining({ queueId: 'q1', reason: 'has_payload' })]);
    expect(polls(h, from).map((o) => o.value)).toEqual([
      { queueId: 'q0', status: 200, has_payload: false },
      { queueId: 'q1', status: 200, has_payload: true },
    ]);
    expect(h.history.slice(from).filter((o) => o.proc === 'app' && o.f === 'get')).toEqual([]);
    expect(h.w.relay.queued()).toEqual([{ queueId: 'q1', msgId }]);
  });
});

describe('no double banner: a window posts nothing for a conversation with a notification up', () => {
  it('the NSE showed a message of q1 (unread): a message waiting on q1 gets no generic banner; one waiting on q0 does', async () => {
    const { h, win } = await backgroundedLowPower();
    h.sendGood(1); // flagged: pushed, the NSE stores and shows it
    expect(await h.run(() => h.ops('notify', 'nse').length === 1, 60_000)).toBe(true);
    h.sendGood(1, false); // waits at the relay (no push)
    h.sendGood(0, false);
    await h.settle(win.refresh());
    expect(windowEnds(h)).toEqual([expect.objectContaining({ kind: 'refresh', polled: 2, notified: 1 })]);
    expect(h.events('local-notification', () => true, 'app')).toEqual([expect.objectContaining({ queueId: 'q0' })]);
    const polled = h.events('sync', (v) => v.stage === 'poll' && v.window === true, 'app');
    expect(polled).toEqual([
      expect.objectContaining({ queueId: 'q0', hasPayload: true }),
      expect.objectContaining({ queueId: 'q1', hasPayload: true, covered: true }),
    ]);
    expect(polled[0]!.covered).toBeUndefined();
  });

  it('once the conversation was read, a message waiting on it gets its generic banner again', async () => {
    const { h, win } = await backgroundedLowPower();
    const a = h.sendGood(1);
    expect(await h.run(() => h.ops('notify', 'nse').length === 1, 60_000)).toBe(true);
    h.w.db.read.add(a); // read on this device or another (the store's read state)
    h.sendGood(1, false);
    await h.settle(win.refresh());
    expect(h.events('local-notification', () => true, 'app')).toEqual([expect.objectContaining({ queueId: 'q1' })]);
  });
});

describe('fast mode: the status endpoint in front', () => {
  it('the polling app fetches only the queue that holds a message; the others are polled, not fetched', async () => {
    const h = new FastHarness({ mode: 'low-power', queues: 2 });
    await h.start();
    await h.idle(3_000);
    const from = h.history.length;
    const msgId = h.sendGood(0, false);
    expect(await h.run(() => !h.w.relay.queued().some((m) => m.msgId === msgId), 10_000)).toBe(true); // fetched and ACKed
    await h.idle(3_000);
    const gets = h.history.slice(from).filter((o) => o.proc === 'app' && o.f === 'get' && o.type === 'invoke');
    expect(gets.length).toBeGreaterThan(0);
    expect(new Set(gets.map((o) => (o.value as { queueId: string }).queueId))).toEqual(new Set(['q0']));
    const answered = polls(h, from).map((o) => o.value as { queueId: string; has_payload: boolean });
    expect(answered.filter((v) => v.queueId === 'q1').length).toBeGreaterThan(1);
    expect(answered.some((v) => v.queueId === 'q1' && v.has_payload)).toBe(false);
    expect(answered.some((v) => v.queueId === 'q0' && v.has_payload)).toBe(true);
    expect(h.w.relay.queued()).toEqual([]);
  });

  it('a request the endpoint refuses: malformed, unknown path, stale, unkeyed queue, replayed', () => {
    const h = new FastHarness({ mode: 'low-power', queues: 1 });
    const ep = h.w.status;
    const sig = 'ab'.repeat(64);
    const now = h.w.sched.now;
    expect(ep.answer(`/api/v1/queue/status?id=q0&timestamp=${now}&sig=zz`)).toEqual({ status: 400, body: { error: 'PROTO_MALFORMED' } });
    expect(ep.answer(`/api/v1/other?id=q0`)).toEqual({ status: 404, body: { error: 'PROTO_UNKNOWN_COMMAND' } });
    expect(ep.answer(`/api/v1/queue/status?id=q0&timestamp=${now + 400_000}&sig=${sig}`)).toEqual({ status: 401, body: { error: 'PROTO_STALE' } });
    expect(ep.answer(`/api/v1/queue/status?id=q9&timestamp=${now}&sig=${sig}`)).toEqual({ status: 401, body: { error: 'PROTO_AUTH' } });
    expect(ep.answer(`/api/v1/queue/status?id=q0&timestamp=${now}&sig=${sig}`)).toEqual({ status: 200, body: { has_payload: false } });
    expect(ep.answer(`/api/v1/queue/status?id=q0&timestamp=${now}&sig=${sig}`)).toEqual({ status: 401, body: { error: 'PROTO_REPLAY' } });
  });

  it('an instant-mode world registers no status key: the endpoint refuses every queue', () => {
    const h = new FastHarness({ mode: 'instant', queues: 1 });
    expect(h.w.status.answer(`/api/v1/queue/status?id=q0&timestamp=${h.w.sched.now}&sig=${'ab'.repeat(64)}`).status).toBe(401);
  });
});
