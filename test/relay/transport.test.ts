import { afterEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { WsTransport } from '../../src/node/transport/ws-transport.js';
import type { RunningRelay } from '../../src/relay/server.js';
import { SimClock } from '../helpers/sim-clock.js';
import { relay, tempDir } from './fixtures.js';

/** A fake relay that hands every received frame to `onFrame` (answers are up to the test). */
async function fakeRelay(onFrame: (ws: WebSocket, f: Record<string, unknown>) => void): Promise<{ url: string; close(): Promise<void> }> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  wss.on('connection', (ws) => ws.on('message', (d) => onFrame(ws, JSON.parse(d.toString()) as Record<string, unknown>)));
  const port = (wss.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}/`,
    close: async () => {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}

describe('WsTransport failure paths', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
  });

  it('a request without an answer fails with PROTO_TIMEOUT; a late answer is dropped', async () => {
    const held: Array<[WebSocket, Record<string, unknown>]> = [];
    const fake = await fakeRelay((ws, f) => held.push([ws, f]));
    cleanups.push(() => fake.close());
    const clock = new SimClock();
    const t = new WsTransport({ url: fake.url, clock, requestTimeoutMs: 1000 });
    await t.connect();
    cleanups.push(() => t.close());
    const p = t.ping();
    const settled = expect(p).rejects.toMatchObject({ code: 'PROTO_TIMEOUT' });
    for (let i = 0; i < 1000 && held.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    await clock.advance(1000);
    await settled;
    // The answer arrives after the timeout: ignored, and the transport keeps working.
    const [ws, f] = held[0]!;
    ws.send(JSON.stringify({ type: 'PONG', corrId: f.corrId }));
    const p2 = t.ping();
    for (let i = 0; i < 1000 && held.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    held[1]![0].send(JSON.stringify({ type: 'PONG', corrId: held[1]![1].corrId }));
    await expect(p2).resolves.toBeUndefined();
  });

  it('maps ERR codes to NsekitError; unknown codes become PROTO_INTERNAL; undecodable frames are ignored', async () => {
    const fake = await fakeRelay((ws, f) => {
      if (f.type === 'PING') ws.send(JSON.stringify({ type: 'ERR', corrId: f.corrId, code: 'SOMETHING_NEW' }));
      if (f.type === 'GET') {
        ws.send('{"type":"MSG","corrId":"' + String(f.corrId) + '","body":"!!"}'); // invalid: dropped
        ws.send(JSON.stringify({ type: 'ERR', corrId: f.corrId, code: 'PROTO_AUTH', message: 'no' }));
      }
    });
    cleanups.push(() => fake.close());
    const t = new WsTransport({ url: fake.url });
    await t.connect();
    cleanups.push(() => t.close());
    await expect(t.ping()).rejects.toMatchObject({ code: 'PROTO_INTERNAL', details: { wireCode: 'SOMETHING_NEW' } });
    t.setQueueCreds('q', { recipientCred: 'r' });
    await expect(t.get('q')).rejects.toMatchObject({ code: 'PROTO_AUTH' });
    // Missing credentials are caught locally.
    await expect(t.get('other')).rejects.toMatchObject({ code: 'PROTO_AUTH' });
  });

  it('pending requests fail with PROTO_CLOSED when the relay drops the socket; reconnect works', async () => {
    let drop = true;
    const fake = await fakeRelay((ws, f) => {
      if (drop) ws.terminate();
      else ws.send(JSON.stringify({ type: 'PONG', corrId: f.corrId }));
    });
    cleanups.push(() => fake.close());
    const t = new WsTransport({ url: fake.url });
    await t.connect();
    cleanups.push(() => t.close());
    const closed = new Promise<number>((r) => t.onClose((i) => r(i.code)));
    await expect(t.ping()).rejects.toMatchObject({ code: 'PROTO_CLOSED' });
    expect(await closed).toBe(1006);
    expect(t.connected).toBe(false);
    drop = false;
    await t.connect();
    await expect(t.ping()).resolves.toBeUndefined();
  });

  it('connect to a relay at its connection cap rejects PROTO_BUSY; to nothing rejects PROTO_CLOSED', async () => {
    const tmp = tempDir();
    const r: RunningRelay = await relay({ dbPath: tmp.db, limits: { maxConnections: 1 } });
    cleanups.push(() => tmp.cleanup());
    cleanups.push(() => r.close());
    const a = new WsTransport({ url: r.url });
    await a.connect();
    cleanups.push(() => a.close());
    const b = new WsTransport({ url: r.url });
    await expect(b.connect()).rejects.toMatchObject({ code: 'PROTO_BUSY' });
    const port = r.port;
    await a.close();
    await r.close();
    await expect(new WsTransport({ url: `ws://127.0.0.1:${port}/` }).connect()).rejects.toMatchObject({ code: 'PROTO_CLOSED' });
  });
});
