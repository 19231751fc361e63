/**
 * The facade Swift calls: `NsekitCore.createCore(host, config)` in a bare
 * JSContext. It adapts the callback-style BridgeHost to the core interfaces
 * and maps iOS lifecycle events onto the phase controller. Contract:
 * ios-bridge/host-contract.md.
 */
// First import: installs a console before xstate's module evaluates (bare JSContext).
import { connectConsole } from './console-shim.js';
import { fromHex } from '../bytes.js';
import { deriveKey } from '../crypto/index.js';
import { NsekitError } from '../errors.js';
import type { Host, TimerHandle } from '../host.js';
import type { InboundDeps } from '../inbound/index.js';
import { PhaseController } from '../phase/index.js';
import { QueueCoordinator } from '../queue/index.js';
import { BridgeStore, bridgeHostServices, bridgeInbox, bridgeTransport } from './adapters.js';
import {
  HOST_FUNCTIONS,
  type BridgeConfig,
  type BridgeHost,
  type BridgePhase,
  type ImportSummary,
  type NotificationResult,
} from './contract.js';
import { importPendingInbox } from './inbox-import.js';
import { NseRequests, checkRequest, notifierKeys } from './requests.js';
import { sealE2eBody, sealNid } from './tools.js';

export type { BridgeConfig, BridgeHost, NotificationResult } from './contract.js';
export { HOST_FUNCTIONS };
export { sealE2eBody, sealNid };

declare const __NSEKIT_VERSION__: string;
/** Package version, injected by ios-bridge/build.ts ("dev" when run unbundled). */
export const version: string = typeof __NSEKIT_VERSION__ === 'string' ? __NSEKIT_VERSION__ : 'dev';

export interface NsekitCoreApi {
  readonly version: string;
  phase(): BridgePhase;
  /** NSE: GET → store → ACK → content for the request's queues; also reported once via host.contentReady. */
  didReceiveNotification(req: unknown): Promise<NotificationResult>;
  /** NSE: iOS is about to kill the extension: deliver best-attempt content now, close the store at once. */
  serviceExtensionTimeWillExpire(): Promise<void>;
  /** NSE: the app became active (Darwin notification): deliver what we have, drain and release promptly. */
  yieldRequested(): Promise<void>;
  /** App: no new network operations; in-flight ones finish; the store stays open. */
  appDidEnterBackground(): void;
  /** App: the background task is expiring: drain within drainDeadlineMs, close the store, free the lock. */
  backgroundTaskWillExpire(): Promise<void>;
  /** App: foreground again: reopen classes (database first). */
  appDidBecomeActive(): Promise<void>;
  /** Device locking: forget the key, close the store; inbound goes to the pending inbox. */
  protectedDataWillBecomeUnavailable(): Promise<void>;
  /** Device unlocked: key (or config.masterKeyHex) back in memory; inbound goes to the store; the pending inbox is imported. */
  protectedDataDidBecomeAvailable(masterKeyHex?: string): Promise<ImportSummary>;
}

function key32(hex: string | undefined, what: string): Uint8Array | null {
  if (hex === undefined || hex === null) return null;
  const k = typeof hex === 'string' ? fromHex(hex) : null;
  if (!k || k.length !== 32) throw new NsekitError('BRIDGE_BAD_INPUT', `${what} must be 64 hex characters`);
  return k;
}

function checkHost(h: BridgeHost): void {
  const missing = HOST_FUNCTIONS.filter((f) => typeof (h as unknown as Record<string, unknown>)[f] !== 'function');
  if (missing.length) throw new NsekitError('BRIDGE_BAD_INPUT', `host lacks ${missing.join(', ')}`);
}

export function createCore(bridge: BridgeHost, config: BridgeConfig): NsekitCoreApi {
  if (!bridge || typeof bridge !== 'object') throw new NsekitError('BRIDGE_BAD_INPUT', 'createCore(host, config): host missing');
  checkHost(bridge);
  if (!config || (config.role !== 'nse' && config.role !== 'app')) {
    throw new NsekitError('BRIDGE_BAD_INPUT', "config.role must be 'nse' or 'app'");
  }
  connectConsole(bridge);
  const host: Host = bridgeHostServices(bridge, config.logLevel ?? 'info');
  const tag = config.role === 'nse' ? 'nse' : 'sync';
  const e2eKeys = new Map<string, Uint8Array>();
  for (const [q, hex] of Object.entries(config.queueKeys ?? {})) e2eKeys.set(q, key32(hex, `queueKeys.${q}`)!);
  const notifiers = notifierKeys(config.notifiers);
  const drainMs = config.drainDeadlineMs ?? 1000;
  const graceMs = config.graceMs ?? 2000;
  const initialMaster = key32(config.masterKeyHex, 'masterKeyHex');
  // Only the derived at-rest body key is kept; the master key is not retained.
  let bodyKey: Uint8Array | null = initialMaster ? deriveKey(initialMaster, 'body') : null;

  // `store` is assigned right below; the hook only runs later, on suspension.
  let store: BridgeStore;
  const phase: PhaseController = new PhaseController(host, {
    proc: config.role,
    defaultOpTimeoutMs: config.gateTimeoutMs ?? 10_000,
    // Suspension: the database class has drained, so no write holds the lock; close the DB file.
    hooks: { onSuspend: async (): Promise<void> => void (await store.closeSerialized()) },
  });
  phase.on('phase', (e) => {
    try {
      bridge.phaseChanged(e.phase);
    } catch (err) {
      host.log.log('error', 'phase', 'phaseChanged threw', { error: String(err) });
    }
  });
  store = new BridgeStore(bridge, phase, {
    lockTimeoutMs: config.lockTimeoutMs ?? 5000,
    gateTimeoutMs: config.gateTimeoutMs ?? 10_000,
  });
  const queues = new QueueCoordinator(host, bridgeTransport(bridge), { gate: phase });
  const inbox = bridgeInbox(bridge, phase, config.gateTimeoutMs ?? 10_000);

  // Deps are captured per queue fetch. Locking mid-fetch drops our key references (never zeroes
  // them in place: a fetch in flight still holds them); the host's store then refuses with
  // STORE_LOCKED, so the message is not ACKed and stays at the relay.
  const inbound = (notifier: InboundDeps['notifier']): InboundDeps => ({
    host,
    store: bodyKey ? store : null,
    inbox,
    notifier,
    e2eKey: (q) => e2eKeys.get(q) ?? null,
    bodyKey,
    logTag: tag,
  });

  let grace: TimerHandle | null = null;
  const cancelGrace = () => {
    if (grace !== null) host.clock.clearTimer(grace);
    grace = null;
  };
  /** Set while expiry/yield delivers content: those deliveries must not start a grace timer. */
  let stopping = false;
  const suspendNow = async (deadlineMs: number) => {
    cancelGrace();
    phase.background();
    await phase.suspend(deadlineMs);
  };
  const deliverAllAndSuspend = (status: 'expired' | 'partial', deadlineMs: number) => {
    stopping = true;
    try {
      requests.deliverAll(status);
    } finally {
      stopping = false;
    }
    return suspendNow(deadlineMs);
  };

  const requests = new NseRequests({
    bridge,
    host,
    queues,
    inbound,
    isLocked: () => bodyKey === null,
    notifiers,
    maxExtraGets: config.maxExtraGets ?? 3,
    forcedDeliveryMs: config.forcedDeliveryMs ?? 25_000,
    onForced: () => {
      void deliverAllAndSuspend('expired', 0).catch((e) => host.log.log('error', 'nse', 'suspend failed', { error: String(e) }));
    },
  });
  // NSE: a short grace after the last request, then suspend so iOS never freezes us with the DB open.
  requests.onIdle = () => {
    if (config.role !== 'nse' || stopping || requests.outstanding > 0 || grace !== null) return;
    grace = host.clock.setTimer(graceMs, () => {
      grace = null;
      if (requests.outstanding === 0) {
        void suspendNow(drainMs).catch((e) => host.log.log('error', 'nse', 'suspend failed', { error: String(e) }));
      }
    });
  };

  return {
    version,
    phase: () => phase.phase,
    async didReceiveNotification(req) {
      const r = checkRequest(req);
      cancelGrace();
      if (phase.phase !== 'active') await phase.activate();
      return requests.handle(r);
    },
    serviceExtensionTimeWillExpire() {
      return deliverAllAndSuspend('expired', 0);
    },
    yieldRequested() {
      return deliverAllAndSuspend('partial', drainMs);
    },
    appDidEnterBackground() {
      phase.background();
    },
    backgroundTaskWillExpire() {
      return suspendNow(drainMs);
    },
    appDidBecomeActive() {
      cancelGrace();
      return phase.activate();
    },
    async protectedDataWillBecomeUnavailable() {
      // Drop, don't wipe: an in-flight fetch may still seal with it (JS cannot guarantee erasure anyway).
      bodyKey = null;
      host.log.log('info', 'store', 'protected data unavailable: store closed, inbound to pending inbox');
      await store.closeSerialized();
    },
    async protectedDataDidBecomeAvailable(masterKeyHex) {
      const k = key32(masterKeyHex ?? config.masterKeyHex, 'masterKeyHex');
      if (!k) throw new NsekitError('BRIDGE_BAD_INPUT', 'protectedDataDidBecomeAvailable needs a master key');
      bodyKey = deriveKey(k, 'body');
      host.log.log('info', 'store', 'protected data available: inbound to the store');
      return importPendingInbox({
        bridge,
        host,
        store,
        gate: phase,
        gateTimeoutMs: config.gateTimeoutMs ?? 10_000,
        bodyKey: () => bodyKey,
        e2eKey: (q) => e2eKeys.get(q) ?? null,
      });
    },
  };
}
