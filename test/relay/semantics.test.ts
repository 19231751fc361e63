import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RelayMessage } from '../../src/core/host.js';
import type { WsTransport } from '../../src/node/transport/ws-transport.js';
import type { RunningRelay } from '../../src/relay/server.js';
import { bytes, client, relay, tempDir, text } from './fixtures.js';

/** Collects subscription deliveries and lets a test await the n-th one. */
function inbox() {
  const got: RelayMessage[] = [];
  let wake: (() => void) | null = null;
  return {
    got,
    onMessage: (m: RelayMessage) => {
      got.push(m);
      wake?.();
    },
    async waitFor(n: number) {
      for (let i = 0; got.length < n && i < 1000; i++) await new Promise<void>((r) => (wake = r));
    },
  };
}

describe('relay queue semantics (real relay, WsTransport)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let r: RunningRelay;
  const clients: WsTransport[] = [];
  const connect = async () => {
    const c = await client(r.url);
    clients.push(c);
    return c;
  };

  beforeEach(async () => {
    tmp = tempDir();
    r = await relay({ dbPath: tmp.db });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.close();
    await r.close();
    tmp.cleanup();
  });

  it('NEW returns distinct ids and credentials; PING answers PONG', async () => {
    const c = await connect();
    const a = await c.createQueue();
    const b = await c.createQueue();
    expect(a.queueId).not.toBe(b.queueId);
    expect(a.recipientCred).not.toBe(a.senderCred);
    await expect(c.ping()).resolves.toBeUndefined();
  });

  it('SEND then GET returns the message; GET again without ACK returns the same; ACK deletes', async () => {
    const c = await connect();
    const q = await c.createQueue();
    await c.send(q.queueId, bytes('one'), { notification: true });
    await c.send(q.queueId, bytes('two'), { notification: false });
    const g1 = await c.get(q.queueId);
    const g2 = await c.get(q.queueId);
    expect(g1).not.toBeNull();
    expect(text(g1!.body)).toBe('one');
    expect(g1!.flags.notification).toBe(true);
    expect(g2!.msgId).toBe(g1!.msgId);
    await c.ack(q.queueId, g1!.msgId);
    const g3 = await c.get(q.queueId);
    expect(text(g3!.body)).toBe('two');
    expect(g3!.flags.notification).toBe(false);
    await c.ack(q.queueId, g3!.msgId);
    expect(await c.get(q.queueId)).toBeNull();
  });

  it('ACK of an unknown or already-ACKed id is PROTO_NO_MSG', async () => {
    const c = await connect();
    const q = await c.createQueue();
    await c.send(q.queueId, bytes('x'), { notification: false });
    const m = await c.get(q.queueId);
    await c.ack(q.queueId, m!.msgId);
    await expect(c.ack(q.queueId, m!.msgId)).rejects.toMatchObject({ code: 'PROTO_NO_MSG' });
    await expect(c.ack(q.queueId, 'nonexistent')).rejects.toMatchObject({ code: 'PROTO_NO_MSG' });
  });

  it('sender and recipient credentials are not interchangeable', async () => {
    const owner = await connect();
    const q = await owner.createQueue();
    const other = await connect();
    other.setQueueCreds(q.queueId, { recipientCred: q.senderCred, senderCred: q.recipientCred });
    await expect(other.send(q.queueId, bytes('x'), { notification: false })).rejects.toMatchObject({ code: 'PROTO_AUTH' });
    await expect(other.get(q.queueId)).rejects.toMatchObject({ code: 'PROTO_AUTH' });
    // Unknown queue answers the same as a wrong credential.
    other.setQueueCreds('f00d', { recipientCred: q.recipientCred });
    await expect(other.get('f00d')).rejects.toMatchObject({ code: 'PROTO_AUTH' });
  });

  it('SUB delivers the first message, and the next only after ACK', async () => {
    const sender = await connect();
    const q = await sender.createQueue();
    for (const s of ['a', 'b', 'c']) await sender.send(q.queueId, bytes(s), { notification: false });
    const rcv = await connect();
    rcv.setQueueCreds(q.queueId, { recipientCred: q.recipientCred });
    const box = inbox();
    await rcv.subscribe(q.queueId, box.onMessage);
    await box.waitFor(1);
    // A round trip on the same socket: had a second MSG been sent, it would have arrived before PONG.
    await rcv.ping();
    expect(box.got.map((m) => text(m.body))).toEqual(['a']);
    await rcv.ack(q.queueId, box.got[0]!.msgId);
    await box.waitFor(2);
    await rcv.ping();
    expect(box.got.map((m) => text(m.body))).toEqual(['a', 'b']);
    await rcv.ack(q.queueId, box.got[1]!.msgId);
    await box.waitFor(3);
    await rcv.ack(q.queueId, box.got[2]!.msgId);
    // Nothing left: a new SEND is delivered at once because nothing is in flight.
    await sender.send(q.queueId, bytes('d'), { notification: false });
    await box.waitFor(4);
    expect(box.got.map((m) => text(m.body))).toEqual(['a', 'b', 'c', 'd']);
  });

  it('a second subscriber ends the first with END and receives the un-ACKed message', async () => {
    const sender = await connect();
    const q = await sender.createQueue();
    await sender.send(q.queueId, bytes('m1'), { notification: false });
    const first = await connect();
    first.setQueueCreds(q.queueId, { recipientCred: q.recipientCred });
    const box1 = inbox();
    const ended: string[] = [];
    first.onEnd((id) => ended.push(id));
    await first.subscribe(q.queueId, box1.onMessage);
    await box1.waitFor(1);

    const second = await connect();
    second.setQueueCreds(q.queueId, { recipientCred: q.recipientCred });
    const box2 = inbox();
    await second.subscribe(q.queueId, box2.onMessage);
    await box2.waitFor(1);
    await first.ping(); // END was sent before the second SUB's OK; a round trip on `first` has seen it
    expect(ended).toEqual([q.queueId]);
    expect(first.isSubscribed(q.queueId)).toBe(false);
    expect(box2.got[0]!.msgId).toBe(box1.got[0]!.msgId);

    // Only the new subscriber receives further messages.
    await second.ack(q.queueId, box2.got[0]!.msgId);
    await sender.send(q.queueId, bytes('m2'), { notification: false });
    await box2.waitFor(2);
    await first.ping();
    expect(box1.got).toHaveLength(1);
    expect(text(box2.got[1]!.body)).toBe('m2');
  });

  it('UNSUB stops deliveries; GET still works', async () => {
    const c = await connect();
    const q = await c.createQueue();
    const box = inbox();
    await c.subscribe(q.queueId, box.onMessage);
    await c.unsubscribe(q.queueId);
    await c.send(q.queueId, bytes('later'), { notification: false });
    await c.ping();
    expect(box.got).toHaveLength(0);
    expect(text((await c.get(q.queueId))!.body)).toBe('later');
  });

  it('requests after close fail with PROTO_CLOSED and onClose fires', async () => {
    const c = await connect();
    const closes: number[] = [];
    c.onClose((i) => closes.push(i.code));
    await c.close();
    expect(closes).toHaveLength(1);
    await expect(c.ping()).rejects.toMatchObject({ code: 'PROTO_CLOSED' });
  });

  it('relay shutdown fails pending state cleanly on the client', async () => {
    const c = await connect();
    const closed = new Promise<number>((res) => c.onClose((i) => res(i.code)));
    await r.close();
    expect(await closed).toBe(1001);
    r = await relay({ dbPath: tmp.db }); // afterEach closes this one
  });
});
