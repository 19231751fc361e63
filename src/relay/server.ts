import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Clock, Log, Rng } from '../core/host.js';
import { nodeClock, nodeRng, stderrLog } from '../node/host.js';
import { RelayConnection, realNow, type RelayContext, type SendTap } from './connection.js';
import { RelayDb } from './db.js';
import { DEFAULT_LIMITS, DEFAULT_SEND_DEDUPE, type RelayLimits, type SendDedupeOptions } from './limits.js';
import { DEFAULT_NOTIFY, NotificationDispatcher, type NotifyOptions, type NotifyStats } from './notifications.js';
import { HttpPushSender, type PushSender } from './push-client.js';
import { DEFAULT_STATUS, StatusEndpoint, type StatusOptions } from './status-endpoint.js';
import { Subscriptions } from './subscriptions.js';

export interface RelayOptions {
  /** 0 picks a free port (tests). */
  port?: number;
  /** Loopback by default; the simulator never listens elsewhere. */
  host?: string;
  /** The relay's own SQLite file (created if missing). */
  dbPath: string;
  limits?: Partial<RelayLimits>;
  /** Idempotent SEND window and cleanup (docs/protocol.md "Idempotent SEND"). */
  sendDedupe?: Partial<SendDedupeOptions>;
  notify?: Partial<NotifyOptions>;
  status?: Partial<StatusOptions>;
  /** Base URL of a push gateway (`startPushGateway().url`). Ignored when `pushSender` is given. */
  pushGatewayUrl?: string;
  /** Custom push delivery (fakes in tests). Without either, notifications stay pending. */
  pushSender?: PushSender;
  clock?: Clock;
  rng?: Rng;
  log?: Log;
}

export interface RunningRelay {
  /** ws://host:port/ — for WsTransport. */
  url: string;
  /** http://host:port — for the signed status endpoint. */
  httpUrl: string;
  port: number;
  /** Open WebSocket connections (counted from the upgrade request to the socket's close). */
  connections(): number;
  notifyStats(): NotifyStats;
  pendingNotifications(): number;
  /** Remembered (queueId, clientId) entries, expired ones not yet cleaned up included (tests). */
  sendDedupeEntries(): number;
  /** Install (or with null remove) the test tap on stored SENDs; see SendTap. */
  setSendTap(tap: SendTap | null): void;
  /** Resolves when no push is being sent right now (tests). */
  pushIdle(): Promise<void>;
  close(): Promise<void>;
}

const BUSY_RESPONSE = 'HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: 23\r\n\r\n{"error":"PROTO_BUSY"}\n';

export async function startRelay(opts: RelayOptions): Promise<RunningRelay> {
  const limits: RelayLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  // The refusal window keeps one timestamp per counted refusal, per connection.
  if (!Number.isSafeInteger(limits.rateCloseAfter) || limits.rateCloseAfter < 1 || limits.rateCloseAfter > 100_000) {
    throw new RangeError(`limits.rateCloseAfter must be an integer in 1..100000, got ${limits.rateCloseAfter}`);
  }
  const clock = opts.clock ?? nodeClock;
  const log = opts.log ?? stderrLog('relay');
  const db = new RelayDb(opts.dbPath);
  const sender = opts.pushSender ?? (opts.pushGatewayUrl ? new HttpPushSender(opts.pushGatewayUrl) : null);
  if (!sender) log.log('warn', 'push', 'no push gateway configured: notifications stay pending');
  const notifier = new NotificationDispatcher(db, clock, log, sender, { ...DEFAULT_NOTIFY, ...opts.notify });
  const dedupe: SendDedupeOptions = { ...DEFAULT_SEND_DEDUPE, ...opts.sendDedupe };
  const ctx: RelayContext = { db, subs: new Subscriptions(db), notifier, limits, dedupe, sendTap: null, clock, rng: opts.rng ?? nodeRng, log };
  // Entries that expired while the relay was down: a bounded sweep, the rest go with later SENDs.
  const swept = db.sweepSendDedupe(clock.now() - dedupe.windowMs, 1000, 100);
  if (swept > 0) log.log('info', 'rt', 'expired send-dedupe entries removed', { count: swept });
  const status = new StatusEndpoint(db, clock, log, { ...DEFAULT_STATUS, ...opts.status });

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://relay');
    if (url.pathname === '/api/v1/queue/status') return status.handle(req, res, url);
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'PROTO_UNKNOWN_COMMAND' }));
  };
  const headMs = limits.handshakeTimeoutMs;
  // Request heads after the first on a keep-alive connection: Node's own headersTimeout,
  // checked often enough to matter at small timeouts.
  const server = createServer(headMs > 0 ? { headersTimeout: Math.min(headMs, 300_000), connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(headMs / 4))) } : {}, onRequest);
  // An idle keep-alive connection lives no longer than a fresh one may stay silent.
  if (headMs > 0) server.keepAliveTimeout = Math.min(server.keepAliveTimeout, headMs);
  // autoPong off: a client Ping costs a token like any frame (RelayConnection answers it).
  const wss = new WebSocketServer({ noServer: true, maxPayload: limits.hardMaxFrameBytes, autoPong: false });
  const conns = new Set<RelayConnection>();
  const perAddress = new Map<string, number>();
  let connCount = 0;
  let nextConnId = 1;
  let closing = false;

  // Handshake timeout: a TCP connection that has not delivered its first complete request head
  // (the upgrade, or a status request) within handshakeTimeoutMs is destroyed. Node's
  // headersTimeout (same value) watches request heads too, but only every
  // connectionsCheckingInterval, and no longer once an upgrade was refused: this timer is exact
  // and stays armed on a refused upgrade.
  const headTimers = new WeakMap<Socket, NodeJS.Timeout>();
  const clearHead = (socket: Socket) => {
    clearTimeout(headTimers.get(socket));
    headTimers.delete(socket);
  };
  server.on('connection', (socket: Socket) => {
    if (headMs <= 0) return;
    const t = setTimeout(() => {
      log.log('debug', 'rt', 'no request head in time, socket destroyed', { timeoutMs: headMs });
      socket.destroy();
    }, headMs);
    t.unref();
    headTimers.set(socket, t);
    socket.once('close', () => clearHead(socket));
  });
  server.on('request', (req: IncomingMessage) => clearHead(req.socket));

  // Idle and frame timeouts: one sweep for all connections (real time, see Liveness).
  const sweepMs = Math.min(1000, Math.max(5, Math.floor(Math.min(...[limits.idleTimeoutMs / 2, limits.frameTimeoutMs, limits.closeTimeoutMs].filter((v) => v > 0), 4000) / 4)));
  const sweeper = setInterval(() => {
    const now = realNow();
    for (const c of conns) c.sweep(now);
  }, sweepMs);
  sweeper.unref();

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const addr = addressKey(req.socket.remoteAddress);
    const fromAddr = perAddress.get(addr) ?? 0;
    if (closing || connCount >= limits.maxConnections || fromAddr >= limits.maxConnectionsPerAddress) {
      // Refuse before the handshake: costs one write, holds nothing. The handshake timer stays
      // armed, so a client that never closes its side is destroyed after it.
      const perAddr = fromAddr >= limits.maxConnectionsPerAddress;
      log.log('warn', 'rt', perAddr ? 'connection refused: per-address cap reached' : 'connection refused: cap reached', {
        max: perAddr ? limits.maxConnectionsPerAddress : limits.maxConnections,
      });
      socket.end(BUSY_RESPONSE);
      return;
    }
    clearHead(req.socket);
    connCount++;
    perAddress.set(addr, fromAddr + 1);
    socket.once('close', () => {
      connCount--;
      const n = (perAddress.get(addr) ?? 1) - 1;
      if (n > 0) perAddress.set(addr, n);
      else perAddress.delete(addr);
    });
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const id = nextConnId++;
      const conn = new RelayConnection(id, ws, ctx);
      conns.add(conn);
      // After ws's own 'data' listener (added in setSocket): see Liveness for why the order matters.
      socket.on('data', () => conn.onSocketData());
      ws.on('error', (e) => log.log('info', 'rt', 'connection error', { conn: id, error: e.message }));
      ws.on('close', (code) => {
        conns.delete(conn);
        conn.closed();
        log.log('debug', 'rt', 'connection closed', { conn: id, code });
      });
      log.log('debug', 'rt', 'connection open', { conn: id });
    });
  });

  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (e) {
    db.close(); // e.g. EADDRINUSE: do not leak the open database
    throw e;
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const host = opts.host ?? '127.0.0.1';
  notifier.start();
  log.log('info', 'rt', 'relay listening', { port, db: opts.dbPath });

  let closed: Promise<void> | undefined;
  return {
    url: `ws://${host}:${port}/`,
    httpUrl: `http://${host}:${port}`,
    port,
    connections: () => connCount,
    notifyStats: () => ({ ...notifier.stats }),
    pendingNotifications: () => db.pendingCount(),
    sendDedupeEntries: () => db.sendDedupeCount(),
    setSendTap: (tap) => {
      ctx.sendTap = tap;
    },
    pushIdle: () => notifier.idle(),
    close: () =>
      (closed ??= (async () => {
        closing = true;
        clearInterval(sweeper);
        notifier.close();
        for (const ws of wss.clients) ws.close(1001, 'relay shutting down');
        // Give clients a moment for the close handshake, then cut whatever is left.
        await waitUntil(() => wss.clients.size === 0, 1000);
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((r) => wss.close(() => r()));
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
        await notifier.idle();
        db.close();
        log.log('info', 'rt', 'relay closed', { port });
      })()),
  };
}

/** Per-address cap key: IPv4-mapped IPv6 (`::ffff:1.2.3.4`) counts as the IPv4 address. */
function addressKey(a: string | undefined): string {
  if (!a) return '?';
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

/** Real-time poll for shutdown only (the injected clock may be simulated). */
async function waitUntil(cond: () => boolean, maxMs: number): Promise<void> {
  for (let waited = 0; waited < maxMs && !cond(); waited += 10) await new Promise((r) => setTimeout(r, 10));
}
