/**
 * The NSE bundle's facade (ios-bridge/dist/nsekit-nse.js): what the
 * Notification Service Extension's Swift calls. It runs the NSE session —
 * `NseService` on a `SessionRuntime` (src/core/session), the same code the
 * Node NSE process and the simulator run — on ports over the host's
 * functions. Everything here is bridge plumbing: argument checks, one
 * `contentReady` per request (collected from the session's events), and the
 * contract's error codes. Contract: ios-bridge/host-contract.md.
 */
// First import: installs a console before xstate's module evaluates (bare JSContext).
import './console-shim.js';
import { NsekitError } from '../errors.js';
import { GENERIC_TITLE } from '../inbound/index.js';
import { NseService } from '../session/nse/nse.js';
import type { BridgeConfig, BridgePhase, NotificationResult, NseBridgeHost, WireContent, WireRead } from './contract.js';
import { NSE_HOST_FUNCTIONS } from './contract.js';
import { nsePorts } from './ports.js';
import { contractCode, createSession, key64, notify, version } from './setup.js';
import { sealE2eBody, sealNid } from './tools.js';

export type { BridgeConfig, NseBridgeHost, NotificationResult } from './contract.js';
export { version, sealE2eBody, sealNid };
export const HOST_FUNCTIONS = NSE_HOST_FUNCTIONS;

export interface NotificationRequest {
  /** Swift's id for this UNNotificationRequest (request.identifier). */
  requestId: string;
  /** Configured queues to fetch (a host whose push names them). */
  queueIds?: string[];
  /** Sealed notification ids from the push payload (mapped to queues via config.notifiers). */
  nids?: { notifierId: string; sealed: string }[];
}

export interface NseCoreApi {
  readonly version: string;
  phase(): BridgePhase;
  /** GET → store → ACK → content for the request's queues; also reported once via host.contentReady. */
  didReceiveNotification(req: unknown): Promise<NotificationResult>;
  /** iOS is about to kill the extension: best-attempt content for every open request now, suspend at once. */
  serviceExtensionTimeWillExpire(): Promise<void>;
  /** The app is in front ("app active" Darwin notification): content so far, no further GET, drain, release. */
  yieldRequested(): Promise<void>;
  /** The app left the foreground with no receive in flight ("app left front"): the NSE may GET again. */
  appLeftForeground(): void;
  /** Device locking: the key leaves memory, the store closes; inbound goes to the pending inbox. */
  protectedDataWillBecomeUnavailable(): Promise<void>;
  /** Device unlocked: the key (or config.masterKeyHex) is back; inbound goes to the store. The NSE never imports the inbox (the app does). */
  protectedDataDidBecomeAvailable(masterKeyHex?: string): Promise<void>;
}

function checkRequest(req: unknown, queues: ReadonlySet<string>): Required<NotificationRequest> {
  const r = req as Partial<NotificationRequest> | null;
  if (!r || typeof r !== 'object' || typeof r.requestId !== 'string' || !r.requestId) {
    throw new NsekitError('BRIDGE_BAD_INPUT', 'didReceiveNotification needs {requestId, queueIds | nids}');
  }
  const qs = r.queueIds ?? [];
  const nids = r.nids ?? [];
  if (!Array.isArray(qs) || !qs.every((q) => typeof q === 'string' && q)) {
    throw new NsekitError('BRIDGE_BAD_INPUT', 'queueIds must be non-empty strings', { requestId: r.requestId });
  }
  const unknown = qs.filter((q) => !queues.has(q));
  if (unknown.length) throw new NsekitError('BRIDGE_BAD_INPUT', `queueIds not in config.queueKeys: ${unknown.join(', ')}`, { requestId: r.requestId });
  if (!Array.isArray(nids) || !nids.every((n) => n && typeof n.notifierId === 'string' && typeof n.sealed === 'string')) {
    throw new NsekitError('BRIDGE_BAD_INPUT', 'nids must be {notifierId, sealed}', { requestId: r.requestId });
  }
  if (qs.length + nids.length === 0) {
    throw new NsekitError('BRIDGE_BAD_INPUT', 'no queueIds or nids', { requestId: r.requestId });
  }
  return { requestId: r.requestId, queueIds: qs, nids };
}

/** One open didReceiveNotification: what the session reported for its push so far. */
interface Pending {
  requestId: string;
  pushId: string;
  messages: WireContent[];
  /** The unread count read last: for the newest message shown (notify.ts Presenter.show) or after a remote read. */
  badge?: number;
  /** Reads on another device applied while open (notify.ts Presenter.remoteRead). */
  read: WireRead[];
  errors: string[];
  /** The device was locked when the push started, or a message went to the pending inbox. */
  locked: boolean;
  /** The app was in front: the session handed the push over (no GET). */
  handedOver: boolean;
  delivered: boolean;
  resolve(r: NotificationResult): void;
}

export function createCore(bridge: NseBridgeHost, config: BridgeConfig): NseCoreApi {
  const open = new Map<string, Pending>(); // by requestId
  const byPush = new Map<string, Pending>(); // by the session's pushId
  let pushSeq = 0;

  const deliver = (p: Pending, status: NotificationResult['status']): void => {
    if (p.delivered) return;
    p.delivered = true;
    open.delete(p.requestId);
    byPush.delete(p.pushId);
    const last = p.messages[p.messages.length - 1];
    const result: NotificationResult = {
      requestId: p.requestId,
      status,
      title: last ? last.title : GENERIC_TITLE,
      body: last ? last.body : '',
      messages: p.messages.slice(),
      ...(p.badge !== undefined ? { badge: p.badge } : {}),
      // Not copied: a delivered request is no longer open, so nothing adds to it.
      ...(p.read.length ? { read: p.read } : {}),
      errors: p.errors.slice(),
    };
    notify(host, 'contentReady', () => bridge.contentReady(p.requestId, result));
    p.resolve(result);
  };
  /** The session finished the push: its content is final. */
  const finish = (p: Pending): void =>
    deliver(p, p.handedOver || p.errors.length ? 'partial' : p.locked ? 'locked' : 'complete');

  const { rt, host, ports, masterKeyHex } = createSession(
    bridge,
    config,
    'nse',
    NSE_HOST_FUNCTIONS,
    nsePorts,
    (c) => ({
      ...(c.forcedDeliveryMs !== undefined ? { nseBudgetMs: c.forcedDeliveryMs } : {}),
      ...(c.graceMs !== undefined ? { nseGraceMs: c.graceMs } : {}),
      ...(c.maxExtraGets !== undefined ? { nseMaxExtraGets: c.maxExtraGets } : {}),
      ...(c.drainDeadlineMs !== undefined ? { nseSuspendDeadlineMs: c.drainDeadlineMs } : {}),
    }),
    (name, f) => {
      const p = typeof f.pushId === 'string' ? byPush.get(f.pushId) : undefined;
      switch (name) {
        case 'phase':
          notify(host, 'phaseChanged', () => bridge.phaseChanged(f.phase as BridgePhase));
          return;
        case 'push-start':
          if (p && !rt.unlocked) p.locked = true;
          return;
        case 'notification':
          // A best-attempt banner is the session's "out of time": the request's status says it.
          if (p && f.bestAttempt !== true) {
            p.messages.push({ msgId: String(f.msgId), queueId: String(f.queueId), title: String(f.title), body: String(f.body) });
            // The count read with the newest message (absent: unreadable then — the host leaves the badge).
            p.badge = f.badge as number | undefined;
          }
          return;
        case 'thread-read':
          // A read on another device (the NSE has no tap): a device-wide fact, so every open request
          // carries it; its content is still to come, and the host removes the banners at contentReady.
          for (const q of open.values()) {
            // The session's own fields (notify.ts remoteRead): strings, msgIds, a badge or none.
            q.read.push({ threadId: f.threadId, queueId: f.queueId, msgIds: f.msgIds } as WireRead);
            q.badge = f.badge as number | undefined;
          }
          return;
        case 'error':
          if (p) p.errors.push(contractCode(f.code));
          return;
        case 'handed-over':
          if (p) p.handedOver = true;
          return;
        case 'push-done':
          if (p && Number(f.inboxed) > 0) p.locked = true;
          return;
        case 'yielding':
          // The app is in front: the session shows nothing more; what was shown is the content.
          for (const q of [...open.values()]) deliver(q, 'partial');
          return;
      }
    },
  );
  const c = rt.cfg;
  const nse = new NseService(rt, {
    ...(c.nseBudgetMs !== undefined ? { budgetMs: c.nseBudgetMs } : { budgetMs: 25_000 }),
    ...(c.nseGraceMs !== undefined ? { graceMs: c.nseGraceMs } : {}),
    ...(c.nseMaxExtraGets !== undefined ? { maxExtraGets: c.nseMaxExtraGets } : {}),
    ...(c.nseSuspendDeadlineMs !== undefined ? { suspendDeadlineMs: c.nseSuspendDeadlineMs } : {}),
    onExpire: (pushIds) => {
      for (const id of pushIds) {
        const p = byPush.get(id);
        if (p) deliver(p, 'expired');
      }
    },
  });
  const queues = new Set(rt.queueCfg.keys());
  // The store opens with the key (the unlock below); a locked device's NSE never opens it.
  if (masterKeyHex) void nse.lifecycle({ type: 'lifecycle', event: 'unlock', masterKey: masterKeyHex });

  return {
    version,
    phase: () => rt.phase.phase,
    didReceiveNotification(req) {
      let r: Required<NotificationRequest>;
      try {
        r = checkRequest(req, queues);
        if (open.has(r.requestId)) throw new NsekitError('BRIDGE_BAD_INPUT', `request ${r.requestId} is already in progress`);
      } catch (e) {
        return Promise.reject(e);
      }
      return new Promise<NotificationResult>((resolve) => {
        const p: Pending = { requestId: r.requestId, pushId: `${r.requestId}#${++pushSeq}`, messages: [], read: [], errors: [], locked: false, handedOver: false, delivered: false, resolve };
        open.set(p.requestId, p);
        byPush.set(p.pushId, p);
        const items = [...r.queueIds.map((queueId) => ({ queueId })), ...r.nids.map((n) => ({ notifierId: n.notifierId, sealed: n.sealed }))];
        void nse.push({ type: 'push', pushId: p.pushId, receivedAt: host.clock.now(), items }).then(() => finish(p));
      });
    },
    async serviceExtensionTimeWillExpire() {
      await nse.lifecycle({ type: 'lifecycle', event: 'expiring' });
      await nse.suspend(0);
    },
    yieldRequested() {
      return nse.yieldToApp('ipc');
    },
    appLeftForeground() {
      nse.setAppActive(false);
    },
    async protectedDataWillBecomeUnavailable() {
      await nse.lifecycle({ type: 'lifecycle', event: 'lock' });
      await ports.store.takeLockClose();
    },
    async protectedDataDidBecomeAvailable(masterKeyHex?: string) {
      const k = key64(masterKeyHex ?? config.masterKeyHex, 'masterKeyHex');
      if (!k) throw new NsekitError('BRIDGE_BAD_INPUT', 'protectedDataDidBecomeAvailable needs a master key');
      await nse.lifecycle({ type: 'lifecycle', event: 'unlock', masterKey: k });
    },
  };
}
