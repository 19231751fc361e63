import { parseArgs } from 'node:util';
import { stderrLog } from '../node/host.js';
import { startPushGateway, type RunningPushGateway } from './push-gateway.js';
import type { RelayLimits } from './limits.js';
import { startRelay, type RunningRelay } from './server.js';
import type { StatusOptions } from './status-endpoint.js';

const USAGE = `usage: nsekit relay --db PATH [--port N] [--host 127.0.0.1] [--push-gateway URL | --with-gateway]
                    [--coalesce-ms 2000] [--bundle-max 6] [--skew-ms 300000]
                    [--max-connections 1024] [--max-connections-per-address 256]
                    [--rate-per-sec 500] [--rate-burst 1000] [--rate-close-after 100] [--rate-close-window-ms 10000]
                    [--handshake-timeout-ms 10000] [--idle-timeout-ms 60000] [--frame-timeout-ms 30000]
                    [--close-timeout-ms 5000] [--max-replay-entries 100000] [--max-replay-entries-per-queue 256]
       nsekit push-gateway [--port N] [--background-per-hour 3]
limits and timeouts: docs/protocol.md "Limits and defaults" (timeouts 0 = off)`;

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

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer\n${USAGE}`);
  return n;
}

/**
 * `nsekit relay …`: runs until SIGINT/SIGTERM. `--with-gateway` also starts an
 * in-process push gateway on a free port. Prints one line per listener on stdout
 * (`relay ws://… http://…`, `push-gateway http://…`) so scripts can parse them.
 */
export async function runRelayCli(argv: string[]): Promise<{ relay: RunningRelay; gateway?: RunningPushGateway; close(): Promise<void> }> {
  const { values: parsed } = parseArgs({
    args: argv,
    options: {
      db: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'push-gateway': { type: 'string' },
      'with-gateway': { type: 'boolean' },
      'coalesce-ms': { type: 'string' },
      'bundle-max': { type: 'string' },
      ...Object.fromEntries([...Object.keys(LIMIT_FLAGS), ...Object.keys(STATUS_FLAGS)].map((k) => [k, { type: 'string' as const }])),
      help: { type: 'boolean' },
    },
    strict: true,
  });
  const values = parsed as typeof parsed & Record<string, string | boolean | undefined>;
  if (values.help || !values.db) throw new Error(USAGE);
  const gateway = values['with-gateway'] ? await startPushGateway({ log: stderrLog('push-gateway') }) : undefined;
  const notify: { coalesceMs?: number; bundleMax?: number } = {};
  const coalesceMs = int(values['coalesce-ms'], 'coalesce-ms');
  const bundleMax = int(values['bundle-max'], 'bundle-max');
  if (coalesceMs !== undefined) notify.coalesceMs = coalesceMs;
  if (bundleMax !== undefined) notify.bundleMax = bundleMax;
  const limits: Partial<RelayLimits> = {};
  for (const [flag, key] of Object.entries(LIMIT_FLAGS)) {
    const v = int(values[flag] as string | undefined, flag);
    if (v !== undefined) limits[key] = v;
  }
  const status: Partial<StatusOptions> = {};
  for (const [flag, key] of Object.entries(STATUS_FLAGS)) {
    const v = int(values[flag] as string | undefined, flag);
    if (v !== undefined) status[key] = v;
  }
  const pushGatewayUrl = values['push-gateway'] ?? gateway?.url;
  const relay = await startRelay({
    dbPath: values.db,
    port: int(values.port, 'port') ?? 0,
    host: values.host ?? '127.0.0.1',
    ...(pushGatewayUrl ? { pushGatewayUrl } : {}),
    notify,
    limits,
    status,
    log: stderrLog('relay'),
  });
  process.stdout.write(`relay ${relay.url} ${relay.httpUrl}\n`);
  if (gateway) process.stdout.write(`push-gateway ${gateway.url}\n`);
  const close = async () => {
    await relay.close();
    await gateway?.close();
  };
  onSignals(close);
  return gateway ? { relay, gateway, close } : { relay, close };
}

/** `nsekit push-gateway …`: a standalone simulated APNs. */
export async function runPushGatewayCli(argv: string[]): Promise<RunningPushGateway> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string' }, host: { type: 'string' }, 'background-per-hour': { type: 'string' }, help: { type: 'boolean' } },
    strict: true,
  });
  if (values.help) throw new Error(USAGE);
  const perHour = int(values['background-per-hour'], 'background-per-hour');
  const gateway = await startPushGateway({
    port: int(values.port, 'port') ?? 0,
    host: values.host ?? '127.0.0.1',
    ...(perHour !== undefined ? { backgroundPushesPerHour: perHour } : {}),
    log: stderrLog('push-gateway'),
  });
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
