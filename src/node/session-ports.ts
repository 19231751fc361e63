/**
 * The Node host's ports for a session (src/core/session/ports.ts): the flock
 * (or lease) lock, the SQLite store, the JSONL pending inbox, the ws relay
 * transport and the relay's HTTP status endpoint, all in the app-group
 * directory `sharedDir`.
 */
import { join } from 'node:path';
import type { Gate, Host } from '../core/host.js';
import { NsekitError } from '../core/errors.js';
import { DEFAULT_STORE_SYNC, type PushTokenPort, type SessionPorts, type StatusClient, type StoreSync } from '../core/session/index.js';
import { createFlockLock } from './lock/flock.js';
import type { CrossProcessLock } from './lock/types.js';
import { PendingInboxFile } from './pending-inbox/index.js';
import { SharedStore } from './store/index.js';
import { WsTransport } from './transport/ws-transport.js';

export const SHARED_FILES = { db: 'store.db', lock: 'store.lock', inbox: 'inbox.jsonl' } as const;

export interface NodePortsOptions {
  role: 'app' | 'nse';
  sharedDir: string;
  relayUrl: string;
  /** Base HTTP URL of the relay (status endpoint); defaults from relayUrl. */
  relayHttpUrl?: string;
  /** Builds the cross-process lock (default flock). */
  makeLock?: (path: string, host: Host) => CrossProcessLock;
  /** Store durability (default DEFAULT_STORE_SYNC). */
  storeSync?: StoreSync;
  /** The app's push token (./push-token-port.ts). */
  pushToken?: PushTokenPort;
}

/**
 * The relay's signed status endpoint over HTTP (low-power polling). Bounded like a relay request
 * (10 s): a poll runs as a receive, and one hanging on a half-open connection would hold the
 * app's drain and its lifecycle commands behind it.
 */
export function httpStatusClient(baseUrl: string, timeoutMs = 10_000): StatusClient {
  const base = baseUrl.replace(/\/$/, '');
  return {
    async get(path) {
      let res: Response;
      try {
        res = await fetch(base + path, { signal: AbortSignal.timeout(timeoutMs) });
      } catch (e) {
        const timedOut = (e as Error).name === 'TimeoutError' || (e as Error).name === 'AbortError';
        throw new NsekitError(timedOut ? 'PROTO_TIMEOUT' : 'PROTO_CLOSED', timedOut ? `status poll unanswered after ${timeoutMs} ms` : `status poll failed: ${String((e as Error).message)}`);
      }
      const body: unknown = await res.json().catch(() => ({}));
      return { status: res.status, body };
    },
  };
}

export function nodePorts(o: NodePortsOptions, host: Host, gate: Gate): SessionPorts {
  const makeLock = o.makeLock ?? ((path, h) => createFlockLock(path, { host: h }));
  const lock = makeLock(join(o.sharedDir, SHARED_FILES.lock), host);
  const store = new SharedStore({
    dbPath: join(o.sharedDir, SHARED_FILES.db),
    lock,
    gate,
    host,
    synchronous: (o.storeSync ?? DEFAULT_STORE_SYNC) === 'full' ? 'FULL' : 'NORMAL',
    // The NSE is launched per push: the app (launched rarely, no budget) runs quick_check at open.
    ...(o.role === 'nse' ? { integrityCheck: 'none' as const } : {}),
  });
  return {
    lock,
    store,
    inbox: new PendingInboxFile(join(o.sharedDir, SHARED_FILES.inbox), host),
    transport: new WsTransport({ url: o.relayUrl, host }),
    status: httpStatusClient(o.relayHttpUrl ?? o.relayUrl.replace(/^ws/, 'http')),
    ...(o.pushToken ? { pushToken: o.pushToken } : {}),
  };
}
