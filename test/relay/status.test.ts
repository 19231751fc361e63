import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateStatusKeypair, signStatusRequest, statusRequestPath } from '../../src/core/protocol/status-sig.js';
import { nodeRng } from '../../src/node/host.js';
import type { WsTransport } from '../../src/node/transport/ws-transport.js';
import type { RunningRelay } from '../../src/relay/server.js';
import { SimClock } from '../helpers/sim-clock.js';
import { bytes, client, relay, tempDir } from './fixtures.js';

const SKEW = 300_000;

describe('signed status endpoint GET /api/v1/queue/status', () => {
  let tmp: ReturnType<typeof tempDir>;
  let clock: SimClock;
  let r: RunningRelay;
  let c: WsTransport;
  const keys = generateStatusKeypair(nodeRng);
  let queueId: string;

  const status = async (path: string) => {
    const res = await fetch(r.httpUrl + path);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const signed = (ts = clock.now(), id = queueId, sk = keys.secretKey) => status(statusRequestPath(sk, id, ts));

  beforeEach(async () => {
    tmp = tempDir();
    clock = new SimClock();
    await clock.advance(1_700_000_000_000); // a realistic epoch-ms "now"
    r = await relay({ dbPath: tmp.db, clock, status: { skewMs: SKEW, maxReplayEntries: 4 } });
    c = await client(r.url);
    queueId = (await c.createQueue({ recipientKey: keys.publicKey })).queueId;
  });
  afterEach(async () => {
    await c.close();
    await r.close();
    tmp.cleanup();
  });

  it('answers only has_payload, false then true after a SEND', async () => {
    const empty = await signed();
    expect(empty).toEqual({ status: 200, body: { has_payload: false } });
    await c.send(queueId, bytes('hi'), { notification: false });
    const full = await signed(clock.now() + 1);
    expect(full).toEqual({ status: 200, body: { has_payload: true } });
    expect(Object.keys(full.body)).toEqual(['has_payload']);
  });

  it('accepts timestamps within the skew window either side', async () => {
    expect((await signed(clock.now() - SKEW)).status).toBe(200);
    expect((await signed(clock.now() + SKEW)).status).toBe(200);
  });

  it('refuses a forged signature, a signature for another id, and an unregistered key', async () => {
    const other = generateStatusKeypair(nodeRng);
    expect(await signed(clock.now(), queueId, other.secretKey)).toEqual({ status: 401, body: { error: 'PROTO_AUTH' } });
    // A valid signature over another timestamp does not cover this one.
    const ts = clock.now();
    const sigForOtherTs = signStatusRequest(keys.secretKey, queueId, ts - 1);
    expect(await status(`/api/v1/queue/status?id=${queueId}&timestamp=${ts}&sig=${sigForOtherTs}`)).toEqual({ status: 401, body: { error: 'PROTO_AUTH' } });
    // Flip one bit of a valid signature.
    const good = signStatusRequest(keys.secretKey, queueId, ts);
    const flipped = (parseInt(good[0]!, 16) ^ 1).toString(16) + good.slice(1);
    expect((await status(`/api/v1/queue/status?id=${queueId}&timestamp=${ts}&sig=${flipped}`)).body).toEqual({ error: 'PROTO_AUTH' });
    // A queue created without recipientKey cannot be polled.
    const keyless = (await c.createQueue()).queueId;
    expect((await signed(clock.now(), keyless)).body).toEqual({ error: 'PROTO_AUTH' });
    // An unknown queue looks exactly like a bad signature.
    expect(await signed(clock.now(), 'deadbeef')).toEqual({ status: 401, body: { error: 'PROTO_AUTH' } });
  });

  it('refuses stale and far-future timestamps', async () => {
    expect(await signed(clock.now() - SKEW - 1)).toEqual({ status: 401, body: { error: 'PROTO_STALE' } });
    expect(await signed(clock.now() + SKEW + 1)).toEqual({ status: 401, body: { error: 'PROTO_STALE' } });
  });

  it('refuses a replayed request, even after the queue changed', async () => {
    const ts = clock.now();
    const path = statusRequestPath(keys.secretKey, queueId, ts);
    expect((await status(path)).status).toBe(200);
    await c.send(queueId, bytes('x'), { notification: false });
    expect(await status(path)).toEqual({ status: 401, body: { error: 'PROTO_REPLAY' } });
    // Once the window has passed the same request is stale, not accepted.
    await clock.advance(SKEW + 1);
    expect((await status(path)).body).toEqual({ error: 'PROTO_STALE' });
  });

  it('bounds the replay memory without refusing fresh polls: the oldest timestamp folds into a floor and stays refused', async () => {
    const t0 = clock.now();
    for (let i = 0; i < 4; i++) expect((await signed(t0 + i)).status).toBe(200);
    // Full (4): the queue's oldest timestamp is folded into its floor, the fresh poll is answered.
    expect(await signed(t0 + 4)).toEqual({ status: 200, body: { has_payload: false } });
    // Folded or still listed, a replay is refused; so is a never-seen timestamp at or below the floor.
    expect(await signed(t0)).toEqual({ status: 401, body: { error: 'PROTO_REPLAY' } });
    expect(await signed(t0 + 1)).toEqual({ status: 401, body: { error: 'PROTO_REPLAY' } });
    expect(await signed(t0 - 1)).toEqual({ status: 401, body: { error: 'PROTO_REPLAY' } });
    expect((await signed(t0 + 5)).status).toBe(200);
    // After twice the skew window everything is forgotten (and those timestamps are stale anyway).
    await clock.advance(2 * SKEW);
    expect((await signed()).status).toBe(200);
    expect((await signed(t0 + 1)).body).toEqual({ error: 'PROTO_STALE' });
  });

  it('refuses malformed requests with 400 PROTO_MALFORMED', async () => {
    const ts = clock.now();
    const sig = signStatusRequest(keys.secretKey, queueId, ts);
    for (const q of [
      `id=${queueId}&timestamp=${ts}`,
      `id=${queueId}&sig=${sig}`,
      `timestamp=${ts}&sig=${sig}`,
      `id=${queueId}&timestamp=-5&sig=${sig}`,
      `id=${queueId}&timestamp=${ts}&sig=${sig.slice(2)}`,
      `id=${queueId}&timestamp=${ts}&sig=${'zz' + sig.slice(2)}`,
      `id=a%20b&timestamp=${ts}&sig=${sig}`,
    ]) {
      expect(await status(`/api/v1/queue/status?${q}`)).toEqual({ status: 400, body: { error: 'PROTO_MALFORMED' } });
    }
    expect((await status('/nope')).status).toBe(404);
  });
});
