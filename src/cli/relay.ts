/**
 * `nsekit relay` and `nsekit push-gateway`: flags checked up front (a bad port or a
 * database that cannot be created is named before anything starts), then the relay runs
 * until SIGINT/SIGTERM. Prints one line per listener on stdout (`relay ws://… http://…`,
 * `push-gateway http://…`) so scripts can parse them.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { NsekitError, isNsekitError } from '../core/errors.js';
import { stderrLog } from '../node/host.js';
import type { RelayLimits } from '../relay/limits.js';
import { startPushGateway, type RunningPushGateway } from '../relay/push-gateway.js';
import { startRelay, type RunningRelay } from '../relay/server.js';
import type { StatusOptions } from '../relay/status-endpoint.js';
import { intFlag, parseFlags, portFlag, str, usageError, type FlagSpec, type Parsed } from './args.js';
export { PUSH_GATEWAY_USAGE, RELAY_USAGE } from './usage.js';

/** Relay flags that map one-to-one onto startRelay({limits}). */
const LIMIT_FLAGS = {
  'max-connections': 'maxConnections',
  'max-connections-per-address': 'maxConnectionsPerAddress',
  'rate-per-sec': 'ratePerSec',
  'rate-burst': 'rateBurst',
  'rate-close-after': 'rateCloseAfter',
  'rate-close-window-ms': 'rateCloseWindowMs',
  'handshake-timeout-ms': 'handshakeTimeoutMs',
  'idle-timeout-ms': 'idleTimeoutMs',
  'frame-timeout-ms': 'frameTimeoutMs',
  'close-timeout-ms': 'closeTimeoutMs',
} as const satisfies Record<string, keyof RelayLimits>;
/** … and onto startRelay({status}). */
const STATUS_FLAGS = {
  'skew-ms': 'skewMs',
  'max-replay-entries': 'maxReplayEntries',
  'max-replay-entries-per-queue': 'maxReplayEntriesPerQueue',
} as const satisfies Record<string, keyof StatusOptions>;

const RELAY_FLAGS: FlagSpec = {
  db: 'value', port: 'value', host: 'value', 'push-gateway': 'value', 'with-gateway': 'switch', 'coalesce-ms': 'value', 'bundle-max': 'value',
  ...Object.fromEntries([...Object.keys(LIMIT_FLAGS), ...Object.keys(STATUS_FLAGS)].map((k) => [k, 'value' as const])),
};
const GATEWAY_FLAGS: FlagSpec = { port: 'value', host: 'value', 'background-per-hour': 'value' };

export function parseRelayArgs(argv: readonly string[]): Parsed {
  return parseFlags(argv, RELAY_FLAGS);
}
export function parsePushGatewayArgs(argv: readonly string[]): Parsed {
  return parseFlags(argv, GATEWAY_FLAGS);
}

/** The relay database's directory must exist and be writable: SQLite's own message names neither. */
function checkDbPath(db: string): void {
  const dir = dirname(resolve(db));
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new NsekitError('CLI_IO', `--db ${db}: directory ${dir} does not exist`);
  }
  if (!isDir) throw new NsekitError('CLI_IO', `--db ${db}: ${dir} is not a directory`);
  let existing: ReturnType<typeof statSync> | null = null;
  try {
    existing = statSync(db);
  } catch {
    /* absent: the relay creates it */
  }
  if (existing?.isDirectory()) throw new NsekitError('CLI_IO', `--db ${db} is a directory, not a database file`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new NsekitError('CLI_IO', `--db ${db}: directory ${dir} is not writable`);
  }
}

/** Listener and database failures at start, named by the flag that caused them. */
function startError(e: unknown, what: { db?: string; port: number | undefined; host: string }): never {
  if (isNsekitError(e)) throw e;
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'EADDRINUSE') throw new NsekitError('CLI_IO', `--port ${what.port}: address ${what.host}:${what.port} is in use`);
  if (err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND') throw new NsekitError('CLI_IO', `--host ${what.host}: cannot listen on this address (${err.code})`);
  if (what.db && (err.code?.startsWith('SQLITE') || /database/i.test(err.message))) {
    throw new NsekitError('CLI_IO', `--db ${what.db}: ${err.message}`);
  }
  throw e;
}

export async function runRelayCli(argv: readonly string[]): Promise<{ relay: RunningRelay; gateway?: RunningPushGateway; close(): Promise<void> }> {
  const p = parseRelayArgs(argv);
  const db = str(p, 'db');
  if (!db) throw usageError('--db PATH is required (the relay database file; created if absent)');
  const port = portFlag(p);
  const host = str(p, 'host') ?? '127.0.0.1';
  const notify: { coalesceMs?: number; bundleMax?: number } = {};
  const coalesceMs = intFlag(p, 'coalesce-ms');
  const bundleMax = intFlag(p, 'bundle-max', 1);
  if (coalesceMs !== undefined) notify.coalesceMs = coalesceMs;
  if (bundleMax !== undefined) notify.bundleMax = bundleMax;
  const limits: Partial<RelayLimits> = {};
  for (const [flag, key] of Object.entries(LIMIT_FLAGS)) {
    const v = intFlag(p, flag, flag === 'rate-close-after' ? 1 : 0, flag === 'rate-close-after' ? 100_000 : undefined);
    if (v !== undefined) limits[key] = v;
  }
  const status: Partial<StatusOptions> = {};
  for (const [flag, key] of Object.entries(STATUS_FLAGS)) {
    const v = intFlag(p, flag);
    if (v !== undefined) status[key] = v;
  }
  const gwUrl = str(p, 'push-gateway');
  if (gwUrl !== undefined && p.flags['with-gateway']) throw usageError('--push-gateway and --with-gateway exclude each other');
  if (gwUrl !== undefined && !/^https?:\/\/[^/]/.test(gwUrl)) throw new NsekitError('CLI_BAD_VALUE', `--push-gateway must be an http:// URL, got ${JSON.stringify(gwUrl)}`);
  checkDbPath(db);
  const gateway = p.flags['with-gateway'] ? await startPushGateway({ host, log: stderrLog('push-gateway') }).catch((e) => startError(e, { port: 0, host })) : undefined;
  const pushGatewayUrl = gwUrl ?? gateway?.url;
  let relay: RunningRelay;
  try {
    relay = await startRelay({ dbPath: db, port: port ?? 0, host, ...(pushGatewayUrl ? { pushGatewayUrl } : {}), notify, limits, status, log: stderrLog('relay') });
  } catch (e) {
    await gateway?.close();
    startError(e, { db, port, host });
  }
  process.stdout.write(`relay ${relay.url} ${relay.httpUrl}\n`);
  if (gateway) process.stdout.write(`push-gateway ${gateway.url}\n`);
  const close = async () => {
    await relay.close();
    await gateway?.close();
  };
  onSignals(close);
  return gateway ? { relay, gateway, close } : { relay, close };
}

export async function runPushGatewayCli(argv: readonly string[]): Promise<RunningPushGateway> {
  const p = parsePushGatewayArgs(argv);
  const perHour = intFlag(p, 'background-per-hour');
  const port = portFlag(p);
  const host = str(p, 'host') ?? '127.0.0.1';
  const gateway = await startPushGateway({
    port: port ?? 0,
    host,
    ...(perHour !== undefined ? { backgroundPushesPerHour: perHour } : {}),
    log: stderrLog('push-gateway'),
  }).catch((e) => startError(e, { port, host }));
  process.stdout.write(`push-gateway ${gateway.url}\n`);
  onSignals(() => gateway.close());
  return gateway;
}

function onSignals(close: () => Promise<void>): void {
  const stop = () => {
    void close().finally(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
