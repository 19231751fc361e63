import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Clock, Log } from '../core/host.js';
import { nodeClock, stderrLog, truncateSecret } from '../node/host.js';

/**
 * A simulated APNs. The device side registers `token → deviceUrl`; the relay
 * POSTs pushes; the gateway delivers each by POSTing to the device's URL and
 * answers the relay only after the device took it (so the relay keeps the
 * notification pending while the device is unreachable). Background
 * (`content-available`) pushes are throttled per token like iOS does.
 *
 * HTTP API (JSON bodies, answers `{ok: true}` or `{reason}` like APNs):
 *   POST /register   {token, deviceUrl}            → 200
 *   POST /push       {token, type, payload}        → 200 | 400 BadDeviceToken | 410 Unregistered
 *                                                    | 429 TooManyRequests | 503 DeviceUnreachable
 *   POST /invalidate {token}                       → 200 (later pushes → 410)
 * Delivered to the device: {aps: {'mutable-content': 1, alert: {...}}, ...payload} for alerts,
 * {aps: {'content-available': 1}, ...payload} for background pushes.
 */

export interface PushGatewayOptions {
  port?: number;
  host?: string;
  /** Background pushes delivered per token per rolling hour; more → 429 (default 3). */
  backgroundPushesPerHour?: number;
  /** How long a device may take to accept a push before it counts as unreachable (default 5 s). */
  deliveryTimeoutMs?: number;
  clock?: Clock;
  log?: Log;
}

export interface GatewayStats {
  alertsDelivered: number;
  backgroundDelivered: number;
  throttled: number;
  unregistered: number;
  unreachable: number;
}

export interface RunningPushGateway {
  url: string;
  port: number;
  stats(): GatewayStats;
  close(): Promise<void>;
}

interface Registration {
  deviceUrl: string;
  active: boolean;
  /** Times of delivered background pushes within the last hour. */
  background: number[];
}

const MAX_BODY = 64 * 1024;
const HOUR = 3600_000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'PayloadTooLarge');
    chunks.push(c as Buffer);
  }
  try {
    const v: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    /* fall through */
  }
  throw new HttpError(400, 'BadPayload');
}

function str(o: Record<string, unknown>, k: string): string {
  const v = o[k];
  if (typeof v !== 'string' || v.length === 0 || v.length > 2048) throw new HttpError(400, 'BadPayload');
  return v;
}

export async function startPushGateway(opts: PushGatewayOptions = {}): Promise<RunningPushGateway> {
  const clock = opts.clock ?? nodeClock;
  const log = opts.log ?? stderrLog('push-gateway');
  const perHour = opts.backgroundPushesPerHour ?? 3;
  const deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 5000;
  const regs = new Map<string, Registration>();
  const stats: GatewayStats = { alertsDelivered: 0, backgroundDelivered: 0, throttled: 0, unregistered: 0, unreachable: 0 };

  async function deliver(token: string, reg: Registration, body: object): Promise<void> {
    let status: number;
    try {
      const res = await fetch(reg.deviceUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(deliveryTimeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      status = res.status;
    } catch {
      stats.unreachable++;
      throw new HttpError(503, 'DeviceUnreachable');
    }
    if (status === 410) {
      // The device says this token is no longer valid (app reinstalled, …).
      reg.active = false;
      log.log('warn', 'push', 'device reported token invalid', { token: truncateSecret(token) });
      throw new HttpError(410, 'Unregistered');
    }
    if (status < 200 || status >= 300) {
      stats.unreachable++;
      throw new HttpError(503, 'DeviceUnreachable');
    }
  }

  async function push(o: Record<string, unknown>): Promise<void> {
    const token = str(o, 'token');
    const type = o.type ?? 'alert';
    const payload = o.payload ?? {};
    if ((type !== 'alert' && type !== 'background') || typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      throw new HttpError(400, 'BadPayload');
    }
    const reg = regs.get(token);
    if (!reg) throw new HttpError(400, 'BadDeviceToken');
    if (!reg.active) {
      stats.unregistered++;
      throw new HttpError(410, 'Unregistered');
    }
    if (type === 'background') {
      const now = clock.now();
      reg.background = reg.background.filter((t) => now - t < HOUR);
      if (reg.background.length >= perHour) {
        stats.throttled++;
        log.log('info', 'push', 'background push throttled', { token: truncateSecret(token) });
        throw new HttpError(429, 'TooManyRequests');
      }
      await deliver(token, reg, { ...payload, aps: { 'content-available': 1 } });
      reg.background.push(now);
      stats.backgroundDelivered++;
    } else {
      const aps = { 'mutable-content': 1, alert: { title: 'nsekit', body: 'New message' } };
      await deliver(token, reg, { ...payload, aps });
      stats.alertsDelivered++;
    }
    log.log('info', 'push', 'push delivered', { token: truncateSecret(token), type });
  }

  async function route(req: IncomingMessage): Promise<void> {
    if (req.method !== 'POST') throw new HttpError(405, 'MethodNotAllowed');
    const path = new URL(req.url ?? '/', 'http://gw').pathname;
    if (path !== '/register' && path !== '/push' && path !== '/invalidate') throw new HttpError(404, 'NotFound');
    const o = await readJson(req);
    if (path === '/push') return push(o);
    const token = str(o, 'token');
    if (path === '/register') {
      const deviceUrl = str(o, 'deviceUrl');
      if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\]):\d+(\/|$)/.test(deviceUrl)) throw new HttpError(400, 'BadPayload');
      regs.set(token, { deviceUrl, active: true, background: regs.get(token)?.background ?? [] });
      log.log('info', 'push', 'token registered', { token: truncateSecret(token) });
      return;
    }
    const reg = regs.get(token);
    if (reg) reg.active = false;
    log.log('info', 'push', 'token invalidated', { token: truncateSecret(token) });
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    route(req).then(
      () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
      },
      (e: unknown) => {
        const status = e instanceof HttpError ? e.status : 500;
        const reason = e instanceof HttpError ? e.reason : 'InternalServerError';
        res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ reason }));
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const host = opts.host ?? '127.0.0.1';
  log.log('info', 'push', 'push gateway listening', { port });
  return {
    url: `http://${host}:${port}`,
    port,
    stats: () => ({ ...stats }),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
