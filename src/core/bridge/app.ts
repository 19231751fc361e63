/**
 * The app bundle's facade (ios-bridge/dist/nsekit-app.js): what the app's
 * Swift calls. It runs the app session — `App` on a `SessionRuntime`
 * (src/core/session), the same code the Node app process and the simulator
 * run: lifecycle applied in order, the wake sequence (inbox import, reconnect,
 * fetch what was missed, SUB or low-power polls, outbox), the yield request to
 * the NSE, `left-front` — on ports over the host's functions. The session's
 * events go to `host.sessionEvent`, phase changes to `host.phaseChanged`.
 * Contract: ios-bridge/host-contract.md.
 */
// First import: installs a console before xstate's module evaluates (bare JSContext).
import './console-shim.js';
import { NsekitError } from '../errors.js';
import type { ImportResult } from '../session/ports.js';
import { App } from '../session/app/app.js';
import { appPorts } from './app-ports.js';
import type { AppBridgeHost, BridgeConfig, BridgePhase, ImportSummary, WireWindowResult } from './contract.js';
import { APP_HOST_FUNCTIONS, APP_PUSH_TOKEN_FUNCTIONS } from './contract.js';
import { bridgePushTokenPort, checkPushTokenConfig, checkToken, type BridgePushTokenPort } from './push-token.js';
import { contractCode, createSession, key64, notify, version } from './setup.js';
import { sealE2eBody, sealNid } from './tools.js';

export type { AppBridgeHost, BridgeConfig, ImportSummary, WirePushTokenState, WireWindowResult } from './contract.js';
export { version, sealE2eBody, sealNid };
export const HOST_FUNCTIONS = APP_HOST_FUNCTIONS;

export interface AppCoreApi {
  readonly version: string;
  phase(): BridgePhase;
  /**
   * Foreground: reopen, ask the NSE to yield (lockRequestYield), run the wake sequence. Resolves when it ran.
   * `threadId`: opened by a tap on a notification of that thread (docs/notifications.md "Tap"): the wake
   * runs with reason `tap`, then the thread is read (`sessionEvent("thread-read")`).
   */
  appDidBecomeActive(threadId?: string): Promise<void>;
  /** Background: drop SUBs, block new network work; resolves at `left-front` (no receive in flight). */
  appDidEnterBackground(): Promise<void>;
  /** The background task is expiring: drain within drainDeadlineMs, close the store, free the lock; resolves at `suspended`. */
  backgroundTaskWillExpire(): Promise<void>;
  /** Device locking: the key leaves memory, the store closes; inbound goes to the pending inbox. */
  protectedDataWillBecomeUnavailable(): Promise<void>;
  /** Device unlocked: the key is back; while active the pending inbox is imported now (else at the next wake). */
  protectedDataDidBecomeAvailable(masterKeyHex?: string): Promise<ImportSummary>;
  /** Queue a message in the outbox (durable first), sent now if active, else by the next wake. */
  send(queueId: string, text: string, clientId?: string): Promise<void>;
  /** iOS gave a new push token (or revoked it: null): registered at once while active, else at the next wake. Needs `config.pushToken`. */
  pushTokenChanged(token: string | null): void;
  /** Logout: live delivery ends, NDEL on every queue (owed until sent); the store is kept. Needs `config.pushToken`. */
  logout(): Promise<void>;
  /** Login again: the token is registered and, if active, the wake sequence fetches what waited. */
  login(): Promise<void>;
  /**
   * iOS granted a background window: a `BGAppRefreshTask` (`refresh`) or a `content-available` push
   * (`silent-push`, with its queue) with `budgetMs` (~30 000). Push-only work (outbox; low-power: one
   * status poll per queue → `sessionEvent("local-notification")`), then suspended. Resolves with what it did.
   */
  window(kind: 'refresh' | 'silent-push', budgetMs: number, queueId?: string): Promise<WireWindowResult>;
  /** The user changed a setting: `backgroundRefresh` on submits the refresh request (`sessionEvent("bg-refresh")`), off cancels it. */
  settings(s: { backgroundRefresh?: boolean }): void;
}

const CONFIG_INT = ['pingIntervalMs', 'pollIntervalMs', 'syncMaxBatch', 'drainDeadlineMs'] as const;

export function createCore(bridge: AppBridgeHost, config: BridgeConfig): AppCoreApi {
  const sendQueues = new Set(Array.isArray(config?.sendQueues) ? config.sendQueues : []);
  // The push-token functions are needed only when the app registers the token itself.
  const withToken = config !== null && typeof config === 'object' && config.pushToken !== undefined;
  const pushFns: readonly string[] = APP_PUSH_TOKEN_FUNCTIONS;
  let tokenPort: BridgePushTokenPort | undefined;
  const { rt, host, ports, masterKeyHex } = createSession(
    bridge,
    config,
    'app',
    withToken ? APP_HOST_FUNCTIONS : APP_HOST_FUNCTIONS.filter((f) => !pushFns.includes(f)),
    (h, hs, gate, lockMs) => appPorts(h, hs, gate, lockMs, withToken ? (tokenPort = bridgePushTokenPort(h, hs, config)) : undefined),
    (c) => {
      checkPushTokenConfig(c);
      if (c.backgroundRefresh !== undefined && typeof c.backgroundRefresh !== 'boolean') throw new NsekitError('BRIDGE_BAD_INPUT', 'backgroundRefresh must be true or false');
      for (const k of CONFIG_INT) {
        if (c[k] !== undefined && !(Number.isFinite(c[k]) && (c[k] as number) >= 0)) throw new NsekitError('BRIDGE_BAD_INPUT', `${k} must be a number ≥ 0`);
      }
      if (c.mode !== undefined && c.mode !== 'instant' && c.mode !== 'lowPower') throw new NsekitError('BRIDGE_BAD_INPUT', "mode must be 'instant' or 'lowPower'");
      return {
        ...(c.mode ? { mode: c.mode } : {}),
        ...(c.pingIntervalMs !== undefined ? { pingIntervalMs: c.pingIntervalMs } : {}),
        ...(c.pollIntervalMs !== undefined ? { pollIntervalMs: c.pollIntervalMs } : {}),
        ...(c.syncMaxBatch !== undefined ? { syncMaxBatch: c.syncMaxBatch } : {}),
        ...(c.drainDeadlineMs !== undefined ? { appExpiryDeadlineMs: c.drainDeadlineMs } : {}),
        ...(c.backgroundRefresh !== undefined ? { backgroundRefresh: c.backgroundRefresh } : {}),
      };
    },
    (name, f) => {
      if (name === 'phase') notify(host, 'phaseChanged', () => bridge.phaseChanged(f.phase as BridgePhase));
      else notify(host, 'sessionEvent', () => bridge.sessionEvent(name, name === 'error' ? { ...f, code: contractCode(f.code) } : { ...f }));
    },
    (queueId, c) => ({
      // The host holds the sender credential; the session only needs to know the queue may send.
      ...(sendQueues.has(queueId) ? { senderKey: 'host' } : {}),
      ...(c.statusKeys?.[queueId] !== undefined ? { statusKey: key64(c.statusKeys[queueId], `statusKeys.${queueId}`)! } : {}),
    }),
  );
  const app = new App(rt);
  // The store opens with the key (the unlock below): locked, the app holds no store open.
  if (masterKeyHex) void app.onLifecycle({ type: 'lifecycle', event: 'unlock', masterKey: masterKeyHex }).catch((e) => rt.errorEvent('lifecycle unlock', e));

  const summary = (r: ImportResult | null): ImportSummary => ({
    records: r?.records ?? 0,
    notified: r ? ports.store.newMarkers : 0,
    inserted: r?.inserted ?? 0,
    duplicates: r?.duplicates ?? 0,
    rejected: r?.rejected ?? 0,
    torn: r?.torn ?? 0,
    bad: r?.bad ?? 0,
  });

  return {
    version,
    phase: () => rt.phase.phase,
    appDidBecomeActive: (threadId?: string) => app.onLifecycle({ type: 'lifecycle', event: 'active', ...(typeof threadId === 'string' ? { thread: threadId } : {}) }),
    appDidEnterBackground: () => app.onLifecycle({ type: 'lifecycle', event: 'background' }),
    backgroundTaskWillExpire: () => app.onLifecycle({ type: 'lifecycle', event: 'expiring' }),
    async protectedDataWillBecomeUnavailable() {
      await app.onLifecycle({ type: 'lifecycle', event: 'lock' });
      await ports.store.takeLockClose();
    },
    async protectedDataDidBecomeAvailable(masterKeyHex?: string) {
      const k = key64(masterKeyHex ?? config.masterKeyHex, 'masterKeyHex');
      if (!k) throw new NsekitError('BRIDGE_BAD_INPUT', 'protectedDataDidBecomeAvailable needs a master key');
      ports.inbox.last = null;
      await app.onLifecycle({ type: 'lifecycle', event: 'unlock', masterKey: k });
      return summary(ports.inbox.last);
    },
    async send(queueId: string, text: string, clientId?: string) {
      if (typeof queueId !== 'string' || typeof text !== 'string' || (clientId !== undefined && clientId !== null && typeof clientId !== 'string')) {
        throw new NsekitError('BRIDGE_BAD_INPUT', 'send(queueId, text, clientId?) takes strings');
      }
      await app.send(queueId, text, clientId ?? undefined);
    },
    pushTokenChanged(token: string | null) {
      if (!tokenPort) throw new NsekitError('BRIDGE_BAD_INPUT', 'pushTokenChanged needs config.pushToken (the app registering the token itself)');
      tokenPort.setToken(checkToken(token ?? null, 'token'));
    },
    logout: () => app.logout(),
    login: () => app.login(),
    async window(kind, budgetMs, queueId) {
      if ((kind !== 'refresh' && kind !== 'silent-push') || !(Number.isFinite(budgetMs) && budgetMs > 0) || (queueId !== undefined && queueId !== null && typeof queueId !== 'string')) {
        throw new NsekitError('BRIDGE_BAD_INPUT', "window(kind: 'refresh' | 'silent-push', budgetMs > 0, queueId?)");
      }
      const r = await app.onWindow({ type: 'window', kind, budgetMs, ...(typeof queueId === 'string' ? { queueId } : {}) });
      return { kind: r.kind, ...(r.skipped ? { skipped: r.skipped } : {}), expired: r.expired, sent: r.sent, polled: r.polled, notified: r.notified };
    },
    settings(s) {
      if (!s || typeof s !== 'object' || (s.backgroundRefresh !== undefined && typeof s.backgroundRefresh !== 'boolean')) {
        throw new NsekitError('BRIDGE_BAD_INPUT', 'settings({backgroundRefresh?: boolean})');
      }
      app.onSettings({ type: 'settings', ...(s.backgroundRefresh !== undefined ? { backgroundRefresh: s.backgroundRefresh } : {}) });
    },
  };
}
