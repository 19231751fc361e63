import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { NsekitError } from '../core/errors.js';
import type { PushItem } from './ipc.js';

/** Largest push body the device accepts (APNs' own limit is 4 KB; a simulator batch is larger). */
const MAX_PUSH_BYTES = 256 * 1024;

/**
 * The device's push endpoint on 127.0.0.1: the simulated gateway POSTs each push here. The
 * delivery is acknowledged (200) before the device handles it, as APNs is acknowledged by the
 * phone, not by the NSE; an oversized body gets 413, a non-JSON one 400.
 */
export class PushListener {
  private server: Server | null = null;
  url = '';

  constructor(private readonly onPush: (body: unknown, receivedAt: number) => void) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.onHttp(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const addr = this.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    this.url = `http://127.0.0.1:${port}/push`;
    return this.url;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    await new Promise<void>((r) => s.close(() => r()));
    s.closeAllConnections?.();
  }

  private async onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const receivedAt = Date.now();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_PUSH_BYTES) {
        res.writeHead(413).end();
        return;
      }
      chunks.push(c as Buffer);
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    this.onPush(body, receivedAt);
  }
}

/** Register `token` → `deviceUrl` with the push gateway. */
export async function registerWithGateway(gatewayUrl: string, token: string, deviceUrl: string): Promise<void> {
  const res = await fetch(`${gatewayUrl.replace(/\/$/, '')}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, deviceUrl }),
  });
  if (!res.ok) throw new NsekitError('PROTO_INTERNAL', `push gateway refused the registration: HTTP ${res.status}`, { status: res.status });
}

/** Normalise a gateway payload into notification items (`nids` as APNs carries them, or older shapes). */
export function pushItems(body: unknown): PushItem[] {
  if (Array.isArray(body)) return body as PushItem[];
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    for (const k of ['nids', 'notifications', 'items', 'bundle']) if (Array.isArray(b[k])) return b[k] as PushItem[];
    if (b.payload !== undefined) return pushItems(b.payload);
    return [b];
  }
  return [];
}
