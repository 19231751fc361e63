/**
 * The app's outbox (src/core/session/app/outbox.ts) on the fast ports: refused input, dead
 * letters, per-queue order, retries on its own timer, the caps, pruning, and the outbox write
 * retried on LOCK_TIMEOUT. Orderings and counts only (virtual clock).
 */
import { describe, expect, it } from 'vitest';
import { NsekitError } from '../../src/core/errors.js';
import { Outbox } from '../../src/core/session/index.js';
import { FastHarness } from './fast-harness.js';

/** Make the app's SEND fail for some clientIds (as a relay would answer), the rest go through. */
function failSends(h: FastHarness, plan: (clientId: string, attempt: number) => NsekitError | null): { attempts: Map<string, number> } {
  const t = h.w.app!.p.transport;
  const real = t.sendWithResult.bind(t);
  const attempts = new Map<string, number>();
  t.sendWithResult = async (q, body, flags, opts = {}) => {
    const id = opts.clientId ?? '';
    const n = (attempts.get(id) ?? 0) + 1;
    attempts.set(id, n);
    const e = plan(id, n);
    if (e) throw e;
    return real(q, body, flags, opts);
  };
  return { attempts };
}

const outboxEvents = (h: FastHarness, clientId?: string) => h.events('outbox', (v) => clientId === undefined || v.clientId === clientId, 'app');

describe('outbox: input the relay would refuse', () => {
  it('a 70,000-character message is refused at enqueue (OUTBOX_TOO_LARGE, naming its clientId); nothing is queued and later sends go out', async () => {
    const h = new FastHarness();
    const app = await h.start();
    const big = await h.settle(app.send('q0', 'x'.repeat(70_000), 'big-1'));
    expect(big.ok).toBe(false);
    const err = (big as { error: NsekitError }).error;
    expect(err).toMatchObject({ code: 'OUTBOX_TOO_LARGE', details: { clientId: 'big-1', queueId: 'q0', maxBytes: 65_536 } });
    // The error event a host reports for it names the item too.
    h.w.app!.p.rt.errorEvent('send', err);
    expect(h.events('error', (v) => v.where === 'send', 'app')).toEqual([expect.objectContaining({ code: 'OUTBOX_TOO_LARGE', clientId: 'big-1' })]);
    expect(h.w.db.outbox.has('big-1')).toBe(false);
    expect(outboxEvents(h, 'big-1')).toEqual([]);
    // Just under the limit still fits; and the next messages are sent.
    for (const id of ['c1', 'c2']) expect((await h.settle(app.send('q0', `after ${id}`, id))).ok).toBe(true);
    expect(outboxEvents(h).filter((v) => v.state === 'sent').map((v) => v.clientId)).toEqual(['c1', 'c2']);
    expect(h.w.relay.queued().length + h.w.relay.deleted.length).toBe(2);
  });

  it('a message that seals to exactly the relay limit is queued; one byte more is refused', async () => {
    const h = new FastHarness();
    const app = await h.start();
    // 28 header + 16 tag + {"type":"text","text":"…"} (24 bytes of JSON around the text)
    const fits = 65_536 - 28 - 16 - '{"type":"text","text":""}'.length;
    expect((await h.settle(app.send('q1', 'a'.repeat(fits), 'fits'))).ok).toBe(true);
    const over = await h.settle(app.send('q1', 'a'.repeat(fits + 1), 'over'));
    expect(over).toMatchObject({ ok: false, error: { code: 'OUTBOX_TOO_LARGE' } });
    expect(outboxEvents(h, 'fits').map((v) => v.state)).toEqual(['sending', 'sent']);
  });

  it('every failure of send names its clientId, also one the session generated', async () => {
    const h = new FastHarness();
    const app = await h.start();
    const r = await h.settle(app.send('no-such-queue', 'hi'));
    expect(r.ok).toBe(false);
    const e = (r as { error: NsekitError }).error;
    expect(e.code).toBe('PROTO_NO_QUEUE');
    expect(e.details?.clientId).toMatch(/^[0-9a-f]{24}$/);
    h.w.setDeviceLocked(true);
    await h.idle(10);
    const locked = await h.settle(app.send('q0', 'hi', 'while-locked'));
    expect(locked).toMatchObject({ ok: false, error: { code: 'STORE_LOCKED', details: { clientId: 'while-locked' } } });
  });
});

describe('outbox: one item never blocks the others', () => {
  it('a permanent relay refusal makes the item a dead letter (failed in the store, event with reason) and its queue goes on', async () => {
    const h = new FastHarness();
    const app = await h.start();
    failSends(h, (id) => (id === 'bad' ? new NsekitError('PROTO_TOO_LARGE', 'relay limit is lower here') : null));
    for (const id of ['bad', 'next-1', 'next-2']) await h.settle(app.send('q0', `text ${id}`, id));
    const evs = outboxEvents(h).filter((v) => v.state === 'failed' || v.state === 'sent');
    expect(evs.map((v) => [v.clientId, v.state])).toEqual([
      ['bad', 'failed'],
      ['next-1', 'sent'],
      ['next-2', 'sent'],
    ]);
    expect(evs[0]).toMatchObject({ reason: 'PROTO_TOO_LARGE', queueId: 'q0' });
    const dead = await h.settle(app.outbox.failed());
    expect(dead.ok && dead.value.map((i) => [i.clientId, i.state, i.lastError])).toEqual([['bad', 'failed', 'PROTO_TOO_LARGE']]);
    // A dead letter is not sent again by later drains.
    await h.settle(app.outbox.drain());
    expect(outboxEvents(h, 'bad').filter((v) => v.state === 'failed')).toHaveLength(1);
  });

  it('a transient failure holds only its own queue (order kept there), other queues go on, and the retry timer sends it without a wake', async () => {
    const h = new FastHarness();
    const app = await h.start();
    // Every send drains at once (a1 is tried again each time): it fails its first 3 SENDs.
    const { attempts } = failSends(h, (id, n) => (id === 'a1' && n <= 3 ? new NsekitError('PROTO_TIMEOUT', 'no answer') : null));
    const wakesBefore = h.ops('wake', 'app').length;
    await h.settle(app.send('q0', 'a1', 'a1'));
    await h.settle(app.send('q0', 'a2', 'a2'));
    await h.settle(app.send('q1', 'b1', 'b1'));
    expect(await h.run(() => outboxEvents(h, 'a2').some((v) => v.state === 'sent'))).toBe(true);
    const sent = outboxEvents(h).filter((v) => v.state === 'sent').map((v) => v.clientId);
    // b1 (another queue) went out while a1 waited; a2 only after a1.
    expect(sent.indexOf('b1')).toBeLessThan(sent.indexOf('a1'));
    expect(sent.indexOf('a1')).toBeLessThan(sent.indexOf('a2'));
    expect(attempts.get('a1')).toBe(4);
    expect(attempts.get('a2')).toBe(1);
    expect(outboxEvents(h, 'a1').filter((v) => v.state === 'retry')).toHaveLength(3);
    // The retries came from the outbox's own timer: no wake sequence ran in between.
    expect(h.ops('wake', 'app').length).toBe(wakesBefore);
    // Each item reached the relay once.
    expect(h.w.relay.queued().length + h.w.relay.deleted.length).toBe(3);
  });

  it('an item failing on every SEND stops at the attempt cap (OUTBOX_ATTEMPTS_EXHAUSTED); the queue goes on', async () => {
    const h = new FastHarness();
    const app = await h.start();
    const { attempts } = failSends(h, (id) => (id === 'flaky' ? new NsekitError('PROTO_INTERNAL', 'relay failed') : null));
    await h.settle(app.send('q0', 'flaky', 'flaky'));
    await h.settle(app.send('q0', 'after', 'after'));
    expect(await h.run(() => outboxEvents(h, 'after').some((v) => v.state === 'sent'), 3_600_000)).toBe(true);
    expect(attempts.get('flaky')).toBe(10);
    expect(outboxEvents(h, 'flaky').filter((v) => v.state === 'retry')).toHaveLength(10);
    expect(outboxEvents(h, 'flaky').filter((v) => v.state === 'failed')).toEqual([expect.objectContaining({ reason: 'OUTBOX_ATTEMPTS_EXHAUSTED', attempts: 10 })]);
    expect(h.w.db.outbox.get('flaky')).toMatchObject({ state: 'failed', lastError: 'OUTBOX_ATTEMPTS_EXHAUSTED' });
  });

  it('offline drains spend no attempt; an item unsent past the age cap becomes OUTBOX_EXPIRED', async () => {
    const h = new FastHarness();
    await h.start();
    const rt = h.w.app!.p.rt;
    // An outbox of its own (small age cap), drained in the app's lifecycle order as the app's is.
    const ob = new Outbox(rt, { maxAgeMs: 60_000, retryBaseMs: 1_000, retryMaxMs: 5_000 });
    ob.runSerial = (fn) => h.app.serial(fn);
    h.w.relay.partitioned = true;
    h.w.relay.dropConnections();
    await h.settle(ob.enqueue('q0', 'while offline', 'old'));
    await h.settle(ob.drain());
    expect(await h.run(() => h.w.db.outbox.get('old')?.state === 'failed', 120_000)).toBe(true);
    expect(h.w.db.outbox.get('old')).toMatchObject({ attempts: 0, lastError: 'OUTBOX_EXPIRED' });
    ob.close();
  });

  it('sent rows are pruned to a bounded recent window; unsent and failed rows stay', async () => {
    const h = new FastHarness();
    await h.start();
    const rt = h.w.app!.p.rt;
    const ob = new Outbox(rt, { keepSent: 2 });
    failSends(h, (id) => (id === 'dead' ? new NsekitError('PROTO_AUTH', 'bad sender credential') : null));
    for (const id of ['s1', 'dead', 's2', 's3', 's4']) {
      await h.settle(ob.enqueue('q0', id, id));
      await h.settle(ob.drain());
    }
    const rows = [...h.w.db.outbox.values()].map((i) => [i.clientId, i.state]);
    expect(rows).toEqual([
      ['dead', 'failed'],
      ['s3', 'sent'],
      ['s4', 'sent'],
    ]);
  });
});

describe('outbox: the outbox write retried on LOCK_TIMEOUT', () => {
  it('held by another process past the lock timeout, then freed: the send is queued (one row) and sent', async () => {
    const h = new FastHarness();
    const app = await h.start();
    const release = h.holdLock();
    h.w.sched.setTimer('orchestrator', 7_000, release); // the store waits 5 s per attempt
    const r = await h.settle(app.send('q0', 'held', 'held-1'));
    expect(r).toEqual({ ok: true, value: 'held-1' });
    // Its first attempt did time out: the write was retried, not lucky.
    expect(h.history.filter((o) => o.proc === 'app' && o.f === 'store.put' && o.type === 'fail' && o.error === 'LOCK_TIMEOUT').length).toBeGreaterThanOrEqual(1);
    expect(outboxEvents(h, 'held-1').map((v) => v.state)).toEqual(['sending', 'sent']);
    expect(h.events('error', () => true, 'app')).toEqual([]);
    expect(h.w.relay.queued().length + h.w.relay.deleted.length).toBe(1);
  });

  it('a suspension asked for while it waits ends the retries: OUTBOX_NOT_QUEUED naming the id and the holder, nothing queued, no "sending"', async () => {
    const h = new FastHarness();
    const app = await h.start();
    h.holdLock(999);
    const p = app.send('q0', 'never queued', 'lost-1');
    void h.w.postApp('suspend');
    const r = await h.settle(p);
    expect(r.ok).toBe(false);
    const e = (r as { error: NsekitError }).error;
    expect(e).toMatchObject({ code: 'OUTBOX_NOT_QUEUED', details: { clientId: 'lost-1', cause: 'LOCK_TIMEOUT', holderPid: 999 } });
    h.w.app!.p.rt.errorEvent('send', e);
    expect(h.events('error', (v) => v.where === 'send', 'app')).toEqual([expect.objectContaining({ code: 'OUTBOX_NOT_QUEUED', clientId: 'lost-1', holderPid: 999 })]);
    expect(h.w.db.outbox.has('lost-1')).toBe(false);
    expect(outboxEvents(h, 'lost-1')).toEqual([]);
  });
});
