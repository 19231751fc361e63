import { describe, expect, it } from 'vitest';
import { QueueCoordinator } from '../../src/core/queue/index.js';
import { isNsekitError } from '../../src/core/errors.js';
import type { Gate } from '../../src/core/host.js';
import { SimClock, flush } from '../helpers/sim-clock.js';
import { FakeRelay, deferred, memoryLog, recordingFailpoints, type Events } from '../helpers/fakes.js';

const body = (s: string) => new Uint8Array([...s].map((c) => c.charCodeAt(0)));

function setup(opts: { waitTimeoutMs?: number; holdTimeoutMs?: number; gate?: Gate } = {}) {
  const events: Events = [];
  const clock = new SimClock();
  const relay = new FakeRelay(events);
  const gets = new Map<string, ReturnType<typeof deferred<void>>>();
  // Each GET can be held by the test via `holdGets`.
  let holdGets: Set<string> | null = null;
  const transport = relay.transport({
    beforeGet: async (q) => {
      if (holdGets?.has(q)) {
        const d = deferred();
        gets.set(q, d);
        await d.promise;
      }
    },
  });
  const log = memoryLog();
  const failpoints = recordingFailpoints(events);
  const qc = new QueueCoordinator({ clock, log, failpoints }, transport, opts);
  return {
    events,
    clock,
    relay,
    transport,
    log,
    failpoints,
    qc,
    holdGetsOn: (q: string) => (holdGets = new Set([q])),
    heldGet: (q: string) => gets.get(q),
  };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isNsekitError(e) ? e.code : `other: ${String(e)}`;
  }
}

describe('QueueCoordinator', () => {
  it('N concurrent GETs on one queue with M messages return each message exactly once, in order', async () => {
    const { relay, qc } = setup();
    const M = 5;
    const N = 8;
    for (let i = 0; i < M; i++) relay.send('q1', body(`b${i}`));
    const got: string[] = [];
    const results = await Promise.all(
      Array.from({ length: N }, async () => {
        const r = await qc.getMessage('q1');
        if (r) {
          got.push(r.msg.msgId);
          await r.ack();
        }
        return r;
      }),
    );
    expect(got).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(results.filter((r) => r === null)).toHaveLength(N - M);
    expect(relay.pending('q1')).toEqual([]);
    expect(relay.acked).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
    expect(qc.busy('q1')).toBe(false);
  });

  it('each GET on a queue starts only after the previous holder ACKed (no same message twice)', async () => {
    const { relay, qc, events } = setup();
    relay.send('q1', body('a'));
    relay.send('q1', body('b'));
    const a = qc.getMessage('q1');
    const b = qc.getMessage('q1');
    const ra = (await a)!;
    await flush();
    // b is waiting: exactly one GET reached the relay so far.
    expect(events.filter((e) => e.startsWith('relay.get'))).toEqual(['relay.get q1 m1']);
    expect(qc.busy('q1')).toBe(true);
    await ra.ack();
    const rb = (await b)!;
    expect(rb.msg.msgId).toBe('m2');
    await rb.ack();
    const seq = events.filter((e) => e.startsWith('relay.'));
    expect(seq).toEqual(['relay.send q1 m1', 'relay.send q1 m2', 'relay.get q1 m1', 'relay.ack q1 m1', 'relay.get q1 m2', 'relay.ack q1 m2']);
  });

  it('a different queue is not blocked while Q holds its slot', async () => {
    const { relay, qc, events } = setup();
    relay.send('q1', body('a'));
    relay.send('q2', body('b'));
    const r1 = (await qc.getMessage('q1'))!;
    const r2 = (await qc.getMessage('q2'))!;
    expect(r2.msg.msgId).toBe('m2');
    await r2.ack();
    events.push('q1 still held');
    expect(qc.busy('q1')).toBe(true);
    await r1.ack();
    const seq = events.filter((e) => /^relay\.(get|ack)|held/.test(e));
    expect(seq).toEqual(['relay.get q1 m1', 'relay.get q2 m2', 'relay.ack q2 m2', 'q1 still held', 'relay.ack q1 m1']);
  });

  it('a different queue proceeds while Q is stuck inside a GET', async () => {
    const { relay, qc, holdGetsOn, heldGet } = setup();
    relay.send('q1', body('a'));
    relay.send('q2', body('b'));
    holdGetsOn('q1');
    const p1 = qc.getMessage('q1');
    await flush();
    const r2 = (await qc.getMessage('q2'))!;
    await r2.ack();
    expect(relay.acked).toEqual(['m2']);
    heldGet('q1')!.resolve();
    const r1 = (await p1)!;
    await r1.ack();
    expect(relay.acked).toEqual(['m2', 'm1']);
  });

  it('empty queue returns null and releases the slot at once', async () => {
    const { qc, failpoints } = setup();
    expect(await qc.getMessage('q1')).toBeNull();
    expect(qc.busy('q1')).toBe(false);
    expect(failpoints.hits).toEqual(['queue.slot.acquired', 'net.get.sent', 'net.get.ok', 'queue.slot.released']);
  });

  it('GET refuses while subscribed; SUB refuses while a GET slot is held or awaited', async () => {
    const { relay, qc } = setup();
    const seen: string[] = [];
    await qc.subscribe('q1', (m) => seen.push(m.msgId));
    expect(qc.isSubscribed('q1')).toBe(true);
    expect(await codeOf(qc.getMessage('q1'))).toBe('QUEUE_SUBSCRIBED');
    relay.send('q1', body('x'));
    await flush();
    expect(seen).toEqual(['m1']);
    await qc.unsubscribe('q1');
    expect(qc.isSubscribed('q1')).toBe(false);

    const r = (await qc.getMessage('q1'))!;
    expect(await codeOf(qc.subscribe('q1', () => {}))).toBe('QUEUE_GET_IN_PROGRESS');
    const waiting = qc.getMessage('q1');
    r.release();
    // Slot handed to the waiter, which has not finished its GET yet: still in progress.
    expect(await codeOf(qc.subscribe('q1', () => {}))).toBe('QUEUE_GET_IN_PROGRESS');
    const r2 = (await waiting)!;
    expect(r2.msg.msgId).toBe('m1');
    await r2.ack();
    await qc.subscribe('q1', () => {});
    expect(qc.isSubscribed('q1')).toBe(true);
    // The other queue is unaffected by q1's subscription.
    expect(await qc.getMessage('q2')).toBeNull();
  });

  it('a waiter past waitTimeoutMs gets QUEUE_TIMEOUT and the queue keeps working', async () => {
    const { relay, qc, clock } = setup({ waitTimeoutMs: 1_000, holdTimeoutMs: 60_000 });
    relay.send('q1', body('a'));
    relay.send('q1', body('b'));
    const r1 = (await qc.getMessage('q1'))!;
    const late = codeOf(qc.getMessage('q1'));
    const patient = qc.getMessage('q1', { timeoutMs: 5_000 });
    await clock.advance(1_000);
    expect(await late).toBe('QUEUE_TIMEOUT');
    expect(qc.busy('q1')).toBe(true);
    await r1.ack();
    const r2 = (await patient)!;
    expect(r2.msg.msgId).toBe('m2');
    await r2.ack();
    expect(qc.busy('q1')).toBe(false);
    expect(relay.acked).toEqual(['m1', 'm2']);
  });

  it('hold timeout frees the slot; the late ack gets QUEUE_SLOT_EXPIRED and does not ACK at the relay', async () => {
    const { relay, qc, clock, transport, log } = setup({ holdTimeoutMs: 2_000 });
    relay.send('q1', body('a'));
    const r1 = (await qc.getMessage('q1'))!;
    const next = qc.getMessage('q1');
    await clock.advance(2_000);
    const r2 = (await next)!;
    // Never ACKed, so the next holder sees the same message: nothing lost.
    expect(r2.msg.msgId).toBe('m1');
    expect(await codeOf(r1.ack())).toBe('QUEUE_SLOT_EXPIRED');
    expect(transport.acks).toBe(0);
    expect(relay.pending('q1').map((m) => m.msgId)).toEqual(['m1']);
    await r2.ack();
    expect(relay.acked).toEqual(['m1']);
    expect(log.entries.some((e) => e.tag === 'queue' && e.level === 'warn' && /hold timeout/.test(e.msg))).toBe(true);
  });

  it('the hold timer cannot fire while an ACK is in flight', async () => {
    const clock = new SimClock();
    const relay = new FakeRelay();
    const ackGate = deferred();
    const t = relay.transport({ beforeAck: () => ackGate.promise });
    const qc = new QueueCoordinator({ clock, log: memoryLog(), failpoints: recordingFailpoints() }, t, { holdTimeoutMs: 1_000 });
    relay.send('q1', body('a'));
    relay.send('q1', body('b'));
    const ra = (await qc.getMessage('q1'))!;
    const acking = ra.ack();
    const waiter = qc.getMessage('q1', { timeoutMs: 60_000 });
    await clock.advance(5_000);
    // Well past the hold timeout, the ACK is still in flight: the slot is still held.
    expect(qc.busy('q1')).toBe(true);
    expect(relay.get('q1')?.msgId).toBe('m1');
    ackGate.resolve();
    await acking;
    const rb = (await waiter)!;
    expect(rb.msg.msgId).toBe('m2');
    rb.release();
  });

  it('a GET that outlives the hold timeout is not handed out (QUEUE_SLOT_EXPIRED); the next holder gets the message', async () => {
    const { relay, qc, clock, holdGetsOn, heldGet } = setup({ holdTimeoutMs: 1_000 });
    relay.send('q1', body('a'));
    holdGetsOn('q1');
    const slow = codeOf(qc.getMessage('q1'));
    await flush();
    const stuckGet = heldGet('q1')!;
    const next = qc.getMessage('q1');
    await clock.advance(1_000);
    stuckGet.resolve();
    expect(await slow).toBe('QUEUE_SLOT_EXPIRED');
    heldGet('q1')!.resolve();
    const r = (await next)!;
    expect(r.msg.msgId).toBe('m1');
    await r.ack();
    expect(relay.acked).toEqual(['m1']);
  });

  it('release() without ack lets the next GET see the same message', async () => {
    const { relay, qc, transport } = setup();
    relay.send('q1', body('a'));
    const r1 = (await qc.getMessage('q1'))!;
    r1.release();
    r1.release(); // idempotent
    expect(await codeOf(r1.ack())).toBe('QUEUE_SLOT_EXPIRED');
    const r2 = (await qc.getMessage('q1'))!;
    expect(r2.msg.msgId).toBe('m1');
    await r2.ack();
    expect(transport.acks).toBe(1);
  });

  it('a failing GET releases the slot and the error reaches the caller', async () => {
    const events: Events = [];
    const relay = new FakeRelay(events);
    let fail = true;
    const t = relay.transport({
      beforeGet: () => {
        if (fail) throw new Error('socket closed');
      },
    });
    const qc = new QueueCoordinator({ clock: new SimClock(), log: memoryLog(), failpoints: recordingFailpoints() }, t);
    relay.send('q1', body('a'));
    await expect(qc.getMessage('q1')).rejects.toThrow('socket closed');
    expect(qc.busy('q1')).toBe(false);
    fail = false;
    expect((await qc.getMessage('q1'))!.msg.msgId).toBe('m1');
  });

  it('returns the message flags (notification)', async () => {
    const { relay, qc } = setup();
    relay.send('q1', body('a'), { notification: true });
    relay.send('q1', body('receipt'), { notification: false });
    const r1 = (await qc.getMessage('q1'))!;
    expect(r1.flags).toEqual({ notification: true });
    await r1.ack();
    const r2 = (await qc.getMessage('q1'))!;
    expect(r2.flags).toEqual({ notification: false });
    await r2.ack();
  });
  // Gate tests (one receiveNetwork op per GET..ACK, real PhaseController): queue-gate.test.ts
});
