/**
 * What both bridge entries share: argument validation, the host check, the
 * config → SessionConfig mapping, and a SessionRuntime on the bridge ports
 * whose events go to one listener (the entry's plumbing to the host's
 * callbacks).
 */
import { fromHex, toHex } from '../bytes.js';
import { ErrorCodes, NsekitError } from '../errors.js';
import type { Gate, Host } from '../host.js';
import type { QueueConfig, SessionConfig, SessionEventName } from '../session/index.js';
import { SessionRuntime } from '../session/runtime.js';
import { bridgeHostServices } from './adapters.js';
import type { BridgeConfig, BridgeHost } from './contract.js';
import { connectConsole } from './console-shim.js';
import type { BridgePorts } from './ports.js';

declare const __NSEKIT_VERSION__: string;
/** Package version, injected by ios-bridge/build.ts ("dev" when run unbundled). */
export const version: string = typeof __NSEKIT_VERSION__ === 'string' ? __NSEKIT_VERSION__ : 'dev';

/** A 64-hex key as lowercase hex, or BRIDGE_BAD_INPUT; undefined/null → null. */
export function key64(hex: unknown, what: string): string | null {
  if (hex === undefined || hex === null) return null;
  const k = typeof hex === 'string' ? fromHex(hex) : null;
  if (!k || k.length !== 32) throw new NsekitError('BRIDGE_BAD_INPUT', `${what} must be 64 hex characters`);
  return toHex(k);
}

export type SessionListener = (name: SessionEventName, fields: Record<string, unknown>) => void;

export type PortsFactory<P extends BridgePorts> = (h: BridgeHost, host: Host, gate: Gate, lockTimeoutMs: number) => P;

export interface BridgeSession<P extends BridgePorts> {
  rt: SessionRuntime;
  host: Host;
  ports: P;
  /** The validated master key (lowercase hex) from the config, if any. */
  masterKeyHex: string | null;
}

/**
 * Validate the host and the config (BRIDGE_BAD_INPUT), then build the runtime. `extra` adds the
 * role's own settings to the SessionConfig; `listen` receives every session event.
 */
export function createSession<P extends BridgePorts>(
  bridge: BridgeHost,
  config: BridgeConfig,
  role: 'nse' | 'app',
  hostFunctions: readonly string[],
  makePorts: PortsFactory<P>,
  extra: (c: BridgeConfig) => Partial<SessionConfig>,
  listen: SessionListener,
  queueExtra: (queueId: string, c: BridgeConfig) => Partial<QueueConfig> = () => ({}),
): BridgeSession<P> {
  if (!bridge || typeof bridge !== 'object') throw new NsekitError('BRIDGE_BAD_INPUT', 'createCore(host, config): host missing');
  const missing = hostFunctions.filter((f) => typeof (bridge as unknown as Record<string, unknown>)[f] !== 'function');
  if (missing.length) throw new NsekitError('BRIDGE_BAD_INPUT', `host lacks ${missing.join(', ')}`);
  if (!config || typeof config !== 'object' || config.role !== role) {
    throw new NsekitError('BRIDGE_BAD_INPUT', `config.role must be '${role}' (this is the ${role} bundle, nsekit-${role}.js)`);
  }
  connectConsole(bridge);
  const host = bridgeHostServices(bridge, config.logLevel ?? 'info');
  const queues: QueueConfig[] = [];
  const keys = config.queueKeys ?? {};
  const { conversations = {}, deviceSyncQueue: sync } = config;
  if (sync !== undefined && !Object.hasOwn(keys, sync)) throw new NsekitError('BRIDGE_BAD_INPUT', 'deviceSyncQueue: not a queue');
  for (const [queueId, hex] of Object.entries(keys)) {
    const conversation = conversations[queueId];
    if (conversation !== undefined && typeof conversation !== 'string') throw new NsekitError('BRIDGE_BAD_INPUT', `conversations.${queueId}: not a string`);
    // The host holds the relay credentials; the session only needs a queue's e2e key (and, for a read
    // on another device, its conversation or that it is the device-sync queue).
    queues.push({ ...queueExtra(queueId, config), queueId, recipientKey: '', e2eKey: key64(hex, `queueKeys.${queueId}`)!, conversation, deviceSync: queueId === sync });
  }
  const notifiers = new Map<string, { queueId: string; key: Uint8Array }>();
  for (const [id, v] of Object.entries(config.notifiers ?? {})) {
    if (!v || typeof v.queueId !== 'string') throw new NsekitError('BRIDGE_BAD_INPUT', `notifier ${id}: queueId must be a string`);
    notifiers.set(id, { queueId: v.queueId, key: fromHex(key64(v.keyHex, `notifier ${id}: keyHex`)!)! });
  }
  const masterKeyHex = key64(config.masterKeyHex, 'masterKeyHex');
  const gateTimeoutMs = config.gateTimeoutMs ?? 10_000;
  const cfg: SessionConfig = { ...extra(config), role, queues };
  let ports!: P;
  const rt = new SessionRuntime({
    cfg,
    host,
    events: {
      emit: (name, fields = {}) => {
        try {
          listen(name, fields);
        } catch (e) {
          host.log.log('error', 'rt', 'event plumbing threw', { event: name, error: String(e) });
        }
      },
    },
    ports: (gate) => (ports = makePorts(bridge, host, gate, config.lockTimeoutMs ?? 5000)),
    components: {
      // The contract's gateTimeoutMs: how long an operation waits for its blocked class.
      gate: (g): Gate => ({ run: (cls, fn, opts) => g.run(cls, fn, { timeoutMs: gateTimeoutMs, ...opts }) }),
    },
  });
  for (const [id, n] of notifiers) rt.notifiers.set(id, n);
  return { rt, host, ports, masterKeyHex };
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes));
/** A session error's code as the contract reports it: an untyped exception (the sessions' INTERNAL) is BRIDGE_HOST_ERROR. */
export function contractCode(code: unknown): string {
  return typeof code === 'string' && KNOWN_CODES.has(code) ? code : 'BRIDGE_HOST_ERROR';
}

/** A sync host callback that must not throw: a throw is logged. */
export function notify(host: Host, what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    host.log.log('error', 'rt', `${what} threw`, { error: String(e) });
  }
}
