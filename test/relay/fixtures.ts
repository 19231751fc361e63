import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLog } from '../../src/node/host.js';
import { startRelay, type RelayOptions, type RunningRelay } from '../../src/relay/server.js';
import { WsTransport } from '../../src/node/transport/ws-transport.js';

/** Temp directory removed by `cleanup()`. */
export function tempDir(): { dir: string; db: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'nsekit-relay-'));
  return { dir, db: join(dir, 'relay.db'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function relay(opts: Partial<RelayOptions> & { dbPath: string }): Promise<RunningRelay> {
  return startRelay({ port: 0, host: '127.0.0.1', log: silentLog, ...opts });
}

export async function client(url: string): Promise<WsTransport> {
  const t = new WsTransport({ url, requestTimeoutMs: 20_000 });
  await t.connect();
  return t;
}

export interface DevicePush {
  aps: Record<string, unknown>;
  nids?: Array<{ notifierId: string; sealed: string }>;
  raw: string;
}

/**
 * A tiny HTTP "device": records every push the gateway delivers. `status`
 * lets a test make it refuse (503) or report the token invalid (410).
 */
export class DeviceListener {
  readonly pushes: DevicePush[] = [];
  status = 200;
  private server!: Server;
  private waiters: Array<() => void> = [];
  url = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        if (this.status === 200) {
          const o = JSON.parse(body) as Omit<DevicePush, 'raw'>;
          this.pushes.push({ ...o, raw: body });
        }
        res.writeHead(this.status);
        res.end();
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/push`;
    return this;
  }

  /** Resolves once `n` pushes arrived; rejects after `timeoutMs` (a generous guard, not a timing assertion). */
  async waitFor(n: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.pushes.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`device got ${this.pushes.length} pushes, expected ${n}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  nidCount(): number {
    return this.pushes.reduce((n, p) => n + (p.nids?.length ?? 0), 0);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

export async function registerDevice(gatewayUrl: string, token: string, deviceUrl: string): Promise<void> {
  const res = await fetch(`${gatewayUrl}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token, deviceUrl }),
  });
  if (!res.ok) throw new Error(`register failed: ${res.status}`);
}

export const bytes = (s: string) => new TextEncoder().encode(s);
export const text = (b: Uint8Array) => new TextDecoder().decode(b);
