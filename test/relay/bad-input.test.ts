import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunningRelay } from '../../src/relay/server.js';
import type { RelayLimits } from '../../src/relay/limits.js';
import { SimClock } from '../helpers/sim-clock.js';
import { RawWs } from '../helpers/raw-ws.js';
import { bytes, client, relay, tempDir, text } from './fixtures.js';

/**
 * Hostile input through a raw `ws` client (never our WsTransport). After each
 * case: the relay still serves a fresh client, and every message stored
 * before the attack is still there, in order.
 */
const LIMITS: Partial<RelayLimits> = {
  maxFrameBytes: 4096,
  hardMaxFrameBytes: 16_384,
  maxBodyBytes: 2048,
  maxQueuesPerConn: 5,
  maxQueueMessages: 6,
  maxConnections: 40,
  rateBurst: 50,
  ratePerSec: 10,
  rateCloseAfter: 20,
};

describe('relay under bad input (raw ws client)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let clock: SimClock;
  let r: RunningRelay;
  let q: { queueId: string; recipientCred: string; senderCred: string };
  const raws: RawWs[] = [];
  const raw = async () => {
    const w = await RawWs.open(r.url);
    raws.push(w);
    return w;
  };

  beforeEach(async () => {
    tmp = tempDir();
    // Simulated clock: the token bucket refills only when a test says so.
    clock = new SimClock();
    r = await relay({ dbPath: tmp.db, clock, limits: LIMITS });
    const c = await client(r.url);
    q = await c.createQueue();
    for (const s of ['m0', 'm1', 'm2']) await c.send(q.queueId, bytes(s), { notification: false });
    await c.close();
  });

  afterEach(async () => {
    for (const w of raws.splice(0)) w.close();
    await r.close();
    tmp.cleanup();
  });

  /** A fresh client can SEND and GET, and all earlier messages are intact. */
  async function expectHealthy(): Promise<void> {
    const c = await client(r.url);
    try {
      c.setQueueCreds(q.queueId, q);
      await c.send(q.queueId, bytes('after'), { notification: false });
      const got: string[] = [];
      for (let i = 0; i < 10; i++) {
        const m = await c.get(q.queueId);
        if (!m) break;
        got.push(text(m.body));
        await c.ack(q.queueId, m.msgId);
      }
      expect(got).toEqual(['m0', 'm1', 'm2', 'after']);
    } finally {
      await c.close();
    }
  }

  it('malformed JSON and malformed frames → ERR PROTO_MALFORMED; the socket stays usable', async () => {
    const w = await raw();
    for (const bad of ['{not json', '[1,2,3]', '"str"', 'null', '', '{"type":5}']) {
      w.sendText(bad);
      expect(await w.next()).toMatchObject({ type: 'ERR', code: 'PROTO_MALFORMED' });
    }
    // Missing/invalid fields: the ERR still carries the readable corrId.
    expect(await w.call({ type: 'SEND', corrId: 'k1' })).toMatchObject({ type: 'ERR', code: 'PROTO_MALFORMED', corrId: 'k1' });
    expect(await w.call({ type: 'SEND', corrId: 'k2', queueId: q.queueId, senderCred: q.senderCred, body: 'not base64!', flags: { notification: false } })).toMatchObject({ code: 'PROTO_MALFORMED', corrId: 'k2' });
    expect(await w.call({ type: 'GET', corrId: 'k3', queueId: '../etc', cred: q.recipientCred })).toMatchObject({ code: 'PROTO_MALFORMED', corrId: 'k3' });
    expect(await w.call({ type: 'NEW', corrId: 'k4', recipientKey: 'AAAA' })).toMatchObject({ code: 'PROTO_MALFORMED', corrId: 'k4' });
    expect(await w.call({ type: 'PING', corrId: 'x'.repeat(65) })).toMatchObject({ code: 'PROTO_MALFORMED' });
    expect(await w.call({ type: 'PING', corrId: 'ok' })).toEqual({ type: 'PONG', corrId: 'ok' });
    await expectHealthy();
  });

  it('binary frame → ERR PROTO_MALFORMED', async () => {
    const w = await raw();
    w.sendBinary(bytes(JSON.stringify({ type: 'PING', corrId: 'b' })));
    expect(await w.next()).toMatchObject({ type: 'ERR', code: 'PROTO_MALFORMED' });
    expect(await w.call({ type: 'PING', corrId: 'p' })).toMatchObject({ type: 'PONG' });
    // A text frame that is not UTF-8 is a protocol violation at the ws layer: clean close 1007.
    const w2 = await raw();
    w2.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect((await w2.closed).code).toBe(1007);
    await expectHealthy();
  });

  it('unknown command → ERR PROTO_UNKNOWN_COMMAND with its corrId', async () => {
    const w = await raw();
    expect(await w.call({ type: 'DELETE', corrId: 'u1', queueId: q.queueId })).toMatchObject({ type: 'ERR', code: 'PROTO_UNKNOWN_COMMAND', corrId: 'u1' });
    expect(await w.call({ type: 'MSG', corrId: 'u2' })).toMatchObject({ code: 'PROTO_UNKNOWN_COMMAND' });
    await expectHealthy();
  });

  it('oversized: big frame → PROTO_TOO_LARGE, big body → PROTO_TOO_LARGE, huge frame → close 1009', async () => {
    const w = await raw();
    w.sendText(JSON.stringify({ type: 'PING', corrId: 'big', pad: 'x'.repeat(8000) }));
    expect(await w.next()).toMatchObject({ type: 'ERR', code: 'PROTO_TOO_LARGE' });
    const body = Buffer.alloc(2049, 7).toString('base64');
    expect(await w.call({ type: 'SEND', corrId: 's', queueId: q.queueId, senderCred: q.senderCred, body, flags: { notification: false } })).toMatchObject({ code: 'PROTO_TOO_LARGE', corrId: 's' });
    expect(await w.call({ type: 'PING', corrId: 'still' })).toMatchObject({ type: 'PONG' });
    // Beyond maxPayload ws refuses to buffer the frame at all and closes the socket.
    const w2 = await raw();
    w2.sendText('x'.repeat(1024 * 1024));
    expect((await w2.closed).code).toBe(1009);
    await expectHealthy();
  });

  it('wrong credentials → PROTO_AUTH and nothing changes', async () => {
    const w = await raw();
    const send = { type: 'SEND', corrId: 'a1', queueId: q.queueId, body: 'AA==', flags: { notification: false } };
    expect(await w.call({ ...send, senderCred: q.recipientCred })).toMatchObject({ code: 'PROTO_AUTH', corrId: 'a1' });
    expect(await w.call({ ...send, senderCred: 'f'.repeat(64) })).toMatchObject({ code: 'PROTO_AUTH' });
    expect(await w.call({ type: 'GET', corrId: 'a2', queueId: q.queueId, cred: q.senderCred })).toMatchObject({ code: 'PROTO_AUTH' });
    expect(await w.call({ type: 'SUB', corrId: 'a3', queueId: q.queueId, cred: 'nope' })).toMatchObject({ code: 'PROTO_AUTH' });
    expect(await w.call({ type: 'NSUB', corrId: 'a4', queueId: q.queueId, cred: 'nope', deviceToken: 'tok' })).toMatchObject({ code: 'PROTO_AUTH' });
    // The right credential with a real msgId but the wrong queue's credential cannot delete it.
    const m = await w.call({ type: 'GET', corrId: 'g', queueId: q.queueId, cred: q.recipientCred });
    expect(await w.call({ type: 'ACK', corrId: 'a5', queueId: q.queueId, cred: q.senderCred, msgId: m.msgId })).toMatchObject({ code: 'PROTO_AUTH' });
    await expectHealthy();
  });

  it('ACK of an unknown id → PROTO_NO_MSG; GET on an empty queue → PROTO_NO_MSG', async () => {
    const w = await raw();
    expect(await w.call({ type: 'ACK', corrId: 'n1', queueId: q.queueId, cred: q.recipientCred, msgId: 'ffff' })).toMatchObject({ type: 'ERR', code: 'PROTO_NO_MSG', corrId: 'n1' });
    const fresh = await w.call({ type: 'NEW', corrId: 'n2' });
    expect(await w.call({ type: 'GET', corrId: 'n3', queueId: fresh.queueId, cred: fresh.recipientCred })).toMatchObject({ code: 'PROTO_NO_MSG' });
    await expectHealthy();
  });

  it('quotas: queues per connection and messages per queue → PROTO_QUOTA', async () => {
    const w = await raw();
    const created = [];
    for (let i = 0; i < 5; i++) {
      const ids = await w.call({ type: 'NEW', corrId: `q${i}` });
      expect(ids).toMatchObject({ type: 'IDS' });
      created.push(ids);
    }
    expect(await w.call({ type: 'NEW', corrId: 'q5' })).toMatchObject({ code: 'PROTO_QUOTA', corrId: 'q5' });
    const full = created[0]!;
    const send = { type: 'SEND', queueId: full.queueId, senderCred: full.senderCred, body: 'AA==', flags: { notification: false } };
    for (let i = 0; i < 6; i++) expect(await w.call({ ...send, corrId: `s${i}` })).toMatchObject({ type: 'OK' });
    expect(await w.call({ ...send, corrId: 's6' })).toMatchObject({ code: 'PROTO_QUOTA', corrId: 's6' });
    // ACK frees room.
    const m = await w.call({ type: 'GET', corrId: 'g', queueId: full.queueId, cred: full.recipientCred });
    expect(await w.call({ type: 'ACK', corrId: 'k', queueId: full.queueId, cred: full.recipientCred, msgId: m.msgId })).toMatchObject({ type: 'OK' });
    expect(await w.call({ ...send, corrId: 's7' })).toMatchObject({ type: 'OK' });
    await expectHealthy();
  });

  it('rate limit: beyond the burst → PROTO_RATE_LIMIT; refills with time; persistent abuse → close 1008', async () => {
    const w = await raw();
    for (let i = 0; i < 60; i++) w.sendJson({ type: 'PING', corrId: `r${i}` });
    const answers = [];
    for (let i = 0; i < 60; i++) answers.push(await w.next());
    expect(answers.filter((a) => a.type === 'PONG')).toHaveLength(50);
    const limited = answers.filter((a) => a.type === 'ERR');
    expect(limited).toHaveLength(10);
    expect(limited.every((a) => a.code === 'PROTO_RATE_LIMIT')).toBe(true);
    expect(limited.map((a) => a.corrId)).toEqual(Array.from({ length: 10 }, (_, i) => `r${50 + i}`));

    await clock.advance(1000); // 10 tokens at 10/s
    expect(await w.call({ type: 'PING', corrId: 'again' })).toMatchObject({ type: 'PONG' });

    for (let i = 0; i < 40; i++) w.sendJson({ type: 'PING', corrId: `z${i}` });
    expect((await w.closed).code).toBe(1008);
    await expectHealthy();
  });

  it('connection flood: beyond maxConnections the upgrade is refused with 503 PROTO_BUSY', async () => {
    const N = 300;
    const results = await Promise.allSettled(Array.from({ length: N }, () => RawWs.open(r.url)));
    const opened = results.flatMap((x) => (x.status === 'fulfilled' ? [x.value] : []));
    raws.push(...opened);
    const refused = results.flatMap((x) => (x.status === 'rejected' ? [x.reason as { status?: number; body?: string }] : []));
    expect(opened.length + refused.length).toBe(N);
    expect(opened.length).toBeLessThanOrEqual(LIMITS.maxConnections!);
    expect(opened.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThanOrEqual(N - LIMITS.maxConnections!);
    for (const e of refused) {
      expect(e.status).toBe(503);
      expect(JSON.parse(e.body!)).toEqual({ error: 'PROTO_BUSY' });
    }
    // The accepted ones work.
    expect(await opened[0]!.call({ type: 'PING', corrId: 'f' })).toMatchObject({ type: 'PONG' });
    // Freeing the slots lets new clients in again.
    for (const w of opened) w.close();
    await Promise.all(opened.map((w) => w.closed));
    // Poll the relay's own counter (bounded): server-side close events trail the client's.
    for (let i = 0; i < 1000 && r.connections() > 0; i++) await new Promise((res) => setTimeout(res, 10));
    expect(r.connections()).toBe(0);
    await expectHealthy();
  });
});
