import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { isNsekitError } from '../../src/core/errors.js';
import { generateStatusKeypair, statusRequestPath } from '../../src/core/protocol/status-sig.js';
import { nodeRng } from '../../src/node/host.js';
import type { WsTransport } from '../../src/node/transport/ws-transport.js';
import type { RelayOptions, RunningRelay } from '../../src/relay/server.js';
import { SimClock } from '../helpers/sim-clock.js';
import { client, relay, tempDir } from './fixtures.js';
import { OP, RawTcp, clientFrame, closeCode, waitFor } from './raw-tcp.js';

/**
 * Abuse from a client written from docs/protocol.md alone: floods, silent and
 * trickling sockets, status-replay exhaustion. Loops are bounded in count, and
 * waits are bounded by failure guards; nothing asserts a wall-clock duration —
 * only what arrived, in which order, and how many.
 */

interface Flood {
  answers: Array<Record<string, unknown>>;
  close: { code: number; reason: string } | null;
}

/** Opens a plain `ws` client, sends `frames` back to back, collects every answer until the close or until all were answered. */
async function flood(url: string, frames: Array<string | Buffer>): Promise<Flood> {
  const ws = new WebSocket(url);
  ws.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const out: Flood = { answers: [], close: null };
  ws.on('message', (d) => out.answers.push(JSON.parse(d.toString()) as Record<string, unknown>));
  ws.on('close', (code, reason) => (out.close = { code, reason: reason.toString() }));
  for (const f of frames) ws.send(f);
  await waitFor(() => out.close !== null || out.answers.length >= frames.length, 'the close or every answer', 60_000);
  // A close that trails the last answer still counts.
  if (out.close === null) await waitFor(() => out.close !== null, 'a trailing close', 1_000).catch(() => undefined);
  ws.terminate();
  return out;
}

const codes = (f: Flood) => f.answers.map((a) => (a.type === 'ERR' ? (a.code as string) : (a.type as string)));

describe('relay under abuse', () => {
  let tmp: ReturnType<typeof tempDir> | undefined;
  let r: RunningRelay | undefined;
  const cleanups: Array<() => unknown> = [];

  const start = async (opts: Partial<RelayOptions>) => {
    tmp = tempDir();
    r = await relay({ dbPath: tmp.db, ...opts });
    return r;
  };

  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
    await r?.close();
    tmp?.cleanup();
    r = undefined;
    tmp = undefined;
  });

  const track = <T extends { close(): unknown } | RawTcp>(x: T): T => {
    cleanups.push(() => (x instanceof RawTcp ? x.destroy() : (x as { close(): unknown }).close()));
    return x;
  };

  it('PING flood (real clock, refills between refusals): closed 1008 after exactly rateCloseAfter refusals', async () => {
    // The defaults that an independent client measured: 500/s, burst 1000, and 1000 refusals.
    const limits = { ratePerSec: 500, rateBurst: 1000, rateCloseAfter: 1000, rateCloseWindowMs: 60_000 };
    const rr = await start({ limits });
    const N = 20_000;
    const f = await flood(rr.url, Array.from({ length: N }, (_, i) => JSON.stringify({ type: 'PING', corrId: `p${i}` })));
    const c = codes(f);
    const limited = c.filter((x) => x === 'PROTO_RATE_LIMIT').length;
    const pongs = c.filter((x) => x === 'PONG').length;
    expect(f.close?.code).toBe(1008);
    expect(f.close?.reason).toBe('rate limit');
    // Every refusal answered with its corrId, then the close: no more than rateCloseAfter of them.
    expect(limited).toBe(limits.rateCloseAfter);
    expect(f.answers.filter((a) => a.type === 'ERR').every((a) => typeof a.corrId === 'string')).toBe(true);
    expect(pongs).toBeGreaterThanOrEqual(limits.rateBurst);
    expect(pongs + limited).toBe(f.answers.length);
    expect(f.answers.length).toBeLessThan(N);
    // The last answer before the close is a refusal.
    expect(c.at(-1)).toBe('PROTO_RATE_LIMIT');
  });

  it('malformed flood: malformed frames cost tokens → rate-limited, then closed 1008', async () => {
    const clock = new SimClock(); // no refill: the counts are exact
    const rr = await start({ clock, limits: { rateBurst: 50, rateCloseAfter: 20 } });
    const f = await flood(rr.url, Array.from({ length: 2_000 }, () => '{'));
    expect(codes(f)).toEqual([...Array(50).fill('PROTO_MALFORMED'), ...Array(20).fill('PROTO_RATE_LIMIT')]);
    expect(f.close?.code).toBe(1008);
  });

  it('big malformed and oversized frames cost tokens too; oversized ones answer PROTO_TOO_LARGE while tokens last', async () => {
    const clock = new SimClock();
    const rr = await start({ clock, limits: { rateBurst: 10, rateCloseAfter: 5 } });
    const bigMalformed = '{' + 'x'.repeat(100_000); // under maxFrameBytes (128 KiB)
    const oversized = '{' + 'x'.repeat(140_000); // over maxFrameBytes, under hardMaxFrameBytes
    const frames = [...Array(8).fill(bigMalformed), ...Array(4).fill(oversized), ...Array(8).fill(bigMalformed)];
    const f = await flood(rr.url, frames);
    expect(codes(f)).toEqual([
      ...Array(8).fill('PROTO_MALFORMED'),
      // The socket stays open after PROTO_TOO_LARGE (docs: only hardMaxFrameBytes closes, 1009).
      ...Array(2).fill('PROTO_TOO_LARGE'),
      ...Array(5).fill('PROTO_RATE_LIMIT'),
    ]);
    // Refused before decoding: no corrId could be read from these.
    expect(f.answers.slice(10).every((a) => a.corrId === undefined)).toBe(true);
    expect(f.close?.code).toBe(1008);
  });

  it('WebSocket Pings cost tokens: beyond the bucket no Pong, and they count toward the close', async () => {
    const clock = new SimClock();
    const rr = await start({ clock, limits: { rateBurst: 5, rateCloseAfter: 5 } });
    const s = track(await RawTcp.connect(rr.port));
    await s.upgrade();
    for (let i = 0; i < 40; i++) s.write(clientFrame(OP.ping, `k${i}`));
    const close = await s.frame(OP.close);
    expect(closeCode(close)).toBe(1008);
    const ops = s.frames.map((x) => x.opcode);
    expect(ops).toEqual([...Array(5).fill(OP.pong), OP.close]);
  });

  it('a silent TCP socket (no upgrade) is destroyed after the handshake timeout; upgraded clients are not', async () => {
    const rr = await start({ limits: { handshakeTimeoutMs: 500 } });
    const c = track(await client(rr.url));
    const silent = track(await RawTcp.connect(rr.port));
    // A slowloris head: started, never finished.
    const partialHead = track(await RawTcp.connect(rr.port));
    partialHead.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
    await waitFor(() => silent.isClosed && partialHead.isClosed, 'the relay to drop both sockets');
    // Dropped by the relay's own timer (nothing sent) or by Node's headersTimeout (a bare 408).
    for (const s of [silent, partialHead]) expect(s.preUpgradeText === '' || s.preUpgradeText.startsWith('HTTP/1.1 408')).toBe(true);
    // The WebSocket client that upgraded before them is untouched, and new clients get in.
    expect(c.connected).toBe(true);
    await c.ping();
    const c2 = track(await client(rr.url));
    await c2.ping();
  });

  it('an upgraded socket that never sends is pinged, then closed 4000 and destroyed; a real client answering the Pings stays', async () => {
    // Pings after 500 ms of silence: room for a stalled event loop on a loaded machine.
    const rr = await start({ limits: { idleTimeoutMs: 1000, closeTimeoutMs: 200 } });
    const real = track(await client(rr.url)); // WsTransport: ws answers Pings by itself
    const observer = new WebSocket(rr.url); // a plain ws client, counting the relay's Pings
    cleanups.push(() => observer.terminate());
    let pings = 0;
    observer.on('ping', () => pings++);
    await new Promise((res) => observer.once('open', res));
    const silent = track(await RawTcp.connect(rr.port));
    await silent.upgrade();

    const close = await silent.frame(OP.close);
    expect(closeCode(close)).toBe(4000);
    expect(close.payload.subarray(2).toString()).toBe('idle timeout');
    // Order: the keep-alive Ping came first, and nothing but Ping then Close.
    expect(silent.frames.map((x) => x.opcode)).toEqual([OP.ping, OP.close]);
    // It never answers the Close: the relay destroys the socket.
    await waitFor(() => silent.isClosed, 'the relay to destroy the socket');

    // Meanwhile the answering clients were pinged again and again and are still connected.
    // Three answered Pings span more than one idle timeout.
    await waitFor(() => pings >= 3, 'three keep-alive pings');
    expect(observer.readyState).toBe(WebSocket.OPEN);
    expect(real.connected).toBe(true);
    await real.ping();
  });

  it('a frame trickled byte by byte is cut by the frame timeout (1008) before it completes', async () => {
    const rr = await start({ limits: { frameTimeoutMs: 200, idleTimeoutMs: 0 } });
    const s = track(await RawTcp.connect(rr.port));
    await s.upgrade();
    const frame = clientFrame(OP.text, JSON.stringify({ type: 'PING', corrId: 't', pad: 'x'.repeat(400) }));
    let sent = 0;
    while (sent < frame.length && !s.isClosed && !s.frames.some((f) => f.opcode === OP.close)) {
      s.write(frame.subarray(sent, sent + 1));
      sent++;
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(sent).toBeLessThan(frame.length);
    const close = await s.frame(OP.close);
    expect(closeCode(close)).toBe(1008);
    expect(close.payload.subarray(2).toString()).toBe('frame timeout');
    // Nothing was answered: the frame never completed.
    expect(s.frames.filter((f) => f.opcode === OP.text)).toHaveLength(0);
  });

  it('a fragmented message kept open by interleaved Pings is cut by the frame timeout all the same', async () => {
    const rr = await start({ limits: { frameTimeoutMs: 200, idleTimeoutMs: 0 } });
    const s = track(await RawTcp.connect(rr.port));
    await s.upgrade();
    s.write(clientFrame(OP.text, '{"type":"PING",', false)); // first fragment, FIN clear
    for (let i = 0; i < 300 && !s.frames.some((f) => f.opcode === OP.close); i++) {
      s.write(clientFrame(OP.ping, `i${i}`)); // control frames may legally interleave
      await new Promise((res) => setTimeout(res, 20));
    }
    const close = await s.frame(OP.close);
    expect(closeCode(close)).toBe(1008);
    // The Pings were answered (activity), yet the message never completing is what counts.
    const ops = s.frames.map((f) => f.opcode);
    expect(ops.indexOf(OP.pong)).toBeGreaterThanOrEqual(0);
    expect(ops.indexOf(OP.pong)).toBeLessThan(ops.indexOf(OP.close));
  });

  it('silent upgraded sockets holding every slot lock clients out only until the idle timeout', async () => {
    const rr = await start({ limits: { maxConnections: 4, idleTimeoutMs: 300, closeTimeoutMs: 200 } });
    const silent: RawTcp[] = [];
    for (let i = 0; i < 4; i++) {
      const s = track(await RawTcp.connect(rr.port));
      await s.upgrade();
      silent.push(s);
    }
    // Cap reached: a real client is refused, typed.
    const refused = await client(rr.url).then(
      (t) => (track(t), null),
      (e: unknown) => e,
    );
    expect(isNsekitError(refused) && refused.code).toBe('PROTO_BUSY');
    await waitFor(() => silent.every((s) => s.isClosed), 'the relay to drop the silent sockets');
    await waitFor(() => rr.connections() === 0, 'the slots to free');
    const c = track(await client(rr.url));
    await c.ping();
  });

  it('per-address cap: one address holds at most maxConnectionsPerAddress WebSocket connections', async () => {
    const rr = await start({ limits: { maxConnectionsPerAddress: 2 } });
    const a = track(await client(rr.url));
    track(await client(rr.url));
    const third = await client(rr.url).then(
      (t: WsTransport) => (track(t), null),
      (e: unknown) => e,
    );
    expect(isNsekitError(third) && third.code).toBe('PROTO_BUSY');
    await a.close();
    await waitFor(() => rr.connections() === 1, 'the slot to free');
    await track(await client(rr.url)).ping();
  });

  describe('status replay memory per queue', () => {
    const SKEW = 300_000;
    const keys = generateStatusKeypair(nodeRng);
    let clock: SimClock;
    let c: WsTransport;

    const poll = async (queueId: string, ts: number) => {
      const res = await fetch(r!.httpUrl + statusRequestPath(keys.secretKey, queueId, ts));
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    const setup = async (status: Partial<RelayOptions['status']>) => {
      clock = new SimClock();
      await clock.advance(1_700_000_000_000);
      const rr = await start({ clock, status: { skewMs: SKEW, ...status } });
      c = track(await client(rr.url));
      return async () => (await c.createQueue({ recipientKey: keys.publicKey })).queueId;
    };

    it("exhausting one queue's (or a few queues') replay memory never makes another queue's poll fail", async () => {
      const newQueue = await setup({ maxReplayEntries: 8, maxReplayEntriesPerQueue: 4 });
      const victim = await newQueue();
      const hogs = [await newQueue(), await newQueue(), await newQueue()];
      const t0 = clock.now();
      expect((await poll(victim, t0)).status).toBe(200);
      // One hog floods far past its own and the overall bound; the others fill what is left.
      for (let i = 1; i <= 40; i++) expect((await poll(hogs[0]!, t0 + i)).status).toBe(200);
      for (let i = 1; i <= 6; i++) {
        expect((await poll(hogs[1]!, t0 + i)).status).toBe(200);
        expect((await poll(hogs[2]!, t0 + i)).status).toBe(200);
        // The victim, polling now and then with fresh timestamps, is always answered.
        expect(await poll(victim, t0 + 100 + i)).toEqual({ status: 200, body: { has_payload: false } });
      }
      // And its replay protection held throughout.
      expect(await poll(victim, t0)).toEqual({ status: 401, body: { error: 'PROTO_REPLAY' } });
      expect(await poll(victim, t0 + 106)).toEqual({ status: 401, body: { error: 'PROTO_REPLAY' } });
      // A hog's folded timestamps are refused too: forgetting never re-opens a replay.
      expect((await poll(hogs[0]!, t0 + 1)).body).toEqual({ error: 'PROTO_REPLAY' });
    });

    it('503 PROTO_BUSY is left only for a memory full of single-entry queues (more queues polled than it holds)', async () => {
      const newQueue = await setup({ maxReplayEntries: 2, maxReplayEntriesPerQueue: 4 });
      const q = [await newQueue(), await newQueue(), await newQueue()];
      const t0 = clock.now();
      expect((await poll(q[0]!, t0)).status).toBe(200);
      expect((await poll(q[1]!, t0)).status).toBe(200);
      expect(await poll(q[2]!, t0)).toEqual({ status: 503, body: { error: 'PROTO_BUSY' } });
      // A queue already remembered can still poll: it folds its own oldest entry.
      expect((await poll(q[0]!, t0 + 1)).status).toBe(200);
    });
  });
});
