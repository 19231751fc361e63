/**
 * nsekit bridge — host contract (TypeScript declaration for the iOS team).
 * Two bundles, one per process, both defining the global `NsekitCore`:
 *   nsekit-nse.js — the NSE session; its host is NseBridgeHost (BridgeHostBase + 2)
 *   nsekit-app.js — the app session; its host is AppBridgeHost (BridgeHostBase + 16)
 * Prose, threading, lifecycle and error codes: host-contract.md; the iOS 15.4 floor, keys and lock
 * state, push payload, pending-inbox file format, import duties, contentHandler timing: host-setup.md.
 * Source of truth in the repo: src/core/bridge/contract.ts (kept in sync by test/bridge/contract.test.ts).
 *
 * Conventions
 * - Bytes cross as base64 (bodies, sealed envelopes) or lowercase hex (randomness, keys).
 * - Async host functions take a last argument `done(err, result)`: call it exactly once,
 *   later, on the JS queue — never from inside the call itself. `err` is null on success.
 * - Sync host functions return at once and must not throw (log, contentReady, phaseChanged,
 *   sessionEvent, lockYieldPending, lockRequestYield, lockWithdrawYield) or throw only for a
 *   broken host (now, setTimer, clearTimer, randomHex).
 */

/** `code` is one of the ErrorCodes listed in host-contract.md (src/core/errors.ts). */
export interface BridgeError {
  code: string;
  message: string;
}
export type Done<T> = (err: BridgeError | null, result?: T) => void;

export interface WireRelayMessage {
  msgId: string;
  queueId: string;
  /** relay timestamp, ms since the epoch */
  ts: number;
  /** The relay's flag, passed through; absent is read as true (host-contract.md `transportGet`). */
  notification?: boolean;
  /** end-to-end sealed body, base64 */
  body: string;
}

export interface WireStoredMessage {
  msgId: string;
  queueId: string;
  ts: number;
  notification: boolean;
  /** sealed envelope, base64 — never plaintext */
  sealed: string;
}

export interface InboxClaim {
  claimId: string;
  records: WireStoredMessage[];
  /** msgIds of the claim's `notified` marker lines, own and carried (the host carried its own ones into the live file before answering) */
  notified: string[];
  torn: number;
  bad: number;
}

export interface ImportSummary {
  records: number;
  notified: number;
  inserted: number;
  duplicates: number;
  rejected: number;
  torn: number;
  bad: number;
}

/** A read on another device: these msgIds of the thread became read. */
export interface WireRead {
  threadId: string;
  queueId: string;
  msgIds: string[];
}

export interface WireContent {
  msgId: string;
  queueId: string;
  title: string;
  body: string;
}

export interface NotificationResult {
  requestId: string;
  /** complete | partial (an error, a yield, or the app in front: handed over) | expired (budget / iOS expiry) | locked (pending inbox) */
  status: 'complete' | 'partial' | 'expired' | 'locked';
  title: string;
  body: string;
  messages: WireContent[];
  /** The app icon's badge: the unread count read last while the request was open (newest message shown, or a `read`); absent: leave it. */
  badge?: number;
  /** Reads on another device applied meanwhile: remove the delivered notifications of `msgIds` (absent: none). */
  read?: WireRead[];
  errors: string[];
}

export type BridgePhase = 'active' | 'background' | 'suspending' | 'suspended' | 'activating';

export interface WireCursor {
  lastMsgId: string | null;
  lastTs: number;
}

export interface WireOutboxItem {
  clientId: string;
  queueId: string;
  /** sealed with the outbox key, base64 — opaque to the host */
  body: string;
  state: 'pending' | 'sending' | 'sent' | 'failed';
  attempts: number;
  updatedAt: number;
}

/** What both hosts implement. */
export interface BridgeHostBase {
  now(): number;
  setTimer(ms: number, fire: () => void): number;
  clearTimer(id: number): void;
  randomHex(n: number): string;
  log(level: 'debug' | 'info' | 'warn' | 'error', tag: string, msg: string, fields: string): void;
  lockAcquire(timeoutMs: number, done: Done<{ generation: number; dirty: boolean }>): void;
  lockRelease(wrote: boolean, done: Done<null>): void;
  storePut(m: WireStoredMessage, done: Done<boolean>): void;
  storeMarkNotified(msgId: string, done: Done<boolean>): void;
  storeClose(done: Done<null>): void;
  /** Read state (host-contract.md "storeUnreadCount"…): stored rows with the notification flag and not read. No lock. */
  storeUnreadCount(done: Done<number>): void;
  /** false for an unknown msgId. No lock. */
  storeIsRead(msgId: string, done: Done<boolean>): void;
  /** Inside the lock: mark the queue's unread rows (with upTo: ts ≤ upTo) read → the msgIds that became read, in insertion order. */
  storeMarkThreadRead(queueId: string, upTo: number | null, done: Done<string[]>): void;
  /** The largest ts of the queue's stored rows, null if none. No lock. */
  storeThreadLastTs(queueId: string, done: Done<number | null>): void;
  inboxAppend(m: WireStoredMessage, done: Done<null>): void;
  inboxMarkNotified(msgId: string, queueId: string, done: Done<boolean>): void;
  transportGet(queueId: string, done: Done<WireRelayMessage | null>): void;
  transportAck(queueId: string, msgId: string, done: Done<null>): void;
  phaseChanged(phase: BridgePhase): void;
}

/** What the NSE's Swift passes to createCore (nsekit-nse.js). */
export interface NseBridgeHost extends BridgeHostBase {
  /** Sync: the app's yield record (lockRequestYield, < 10 s old, not withdrawn) is in the app group. Asked before every GET. */
  lockYieldPending(): boolean;
  /** Call the request's contentHandler HERE (not when didReceiveNotification's promise resolves: that can be 10–60 s later). */
  contentReady(requestId: string, result: NotificationResult): void;
}

/** What the app's Swift passes to createCore (nsekit-app.js). */
export interface AppBridgeHost extends BridgeHostBase {
  /** Sync: write the yield record {ts} to the app group and post the Darwin notification "app active". */
  lockRequestYield(): void;
  /** Sync: remove this app's yield record. */
  lockWithdrawYield(): void;
  storeGetCursor(queueId: string, done: Done<WireCursor>): void;
  storeSetCursor(queueId: string, cursor: WireCursor, done: Done<null>): void;
  outboxAdd(item: { clientId: string; queueId: string; body: string }, done: Done<boolean>): void;
  outboxPending(done: Done<WireOutboxItem[]>): void;
  outboxMark(clientId: string, state: 'sending' | 'sent' | 'failed', done: Done<null>): void;
  inboxClaim(done: Done<InboxClaim | null>): void;
  inboxClaimDone(claimId: string, done: Done<null>): void;
  /** Keep onClose/onEnd with the connection: onClose() once when it ends, onEnd(queueId) when the relay ENDs a SUB. */
  transportConnect(onClose: () => void, onEnd: (queueId: string) => void, done: Done<null>): void;
  /** Then onMessage(msg) per MSG on the JS queue; the relay sends the next after transportAck. */
  transportSubscribe(queueId: string, onMessage: (m: WireRelayMessage) => void, done: Done<null>): void;
  transportUnsubscribe(queueId: string, done: Done<null>): void;
  transportSend(queueId: string, body: string, notification: boolean, clientId: string, done: Done<{ msgId?: string; duplicate: boolean }>): void;
  transportPing(done: Done<null>): void;
  statusGet(path: string, done: Done<{ status: number; body: unknown }>): void;
  /** left-front → post "app left front"; notification → show; error → report. */
  sessionEvent(name: string, fields: Record<string, unknown>): void;
  // Push token: needed only with config.pushToken (the app registers the token itself; host-contract.md "transportNsub").
  /** NSUB with the queue's recipient credential → the relay's NID answer, notifierKey base64 (32 bytes). */
  transportNsub(queueId: string, deviceToken: string, platform: string, appVersion: string, done: Done<{ notifierId: string; notifierKey: string }>): void;
  /** NDEL (logout): the queue's token is deactivated at the relay. */
  transportNdel(queueId: string, done: Done<null>): void;
  /** Sync, must not throw: persist to UserDefaults; pass it back as config.pushTokenState at the next launch. */
  pushTokenSave(state: WirePushTokenState): void;
}

/** What the app persisted about its push token (host.pushTokenSave ↔ config.pushTokenState). */
export interface WirePushTokenState {
  registered: { token: string; at: number } | null;
  loggedOut: boolean;
  deactivatePending: boolean;
}

/** What a background window did (AppCoreApi.window resolves with it). */
export interface WireWindowResult {
  kind: 'refresh' | 'silent-push';
  /** in_front | disabled | device_locked | relay_unavailable | error; absent when it worked. */
  skipped?: string;
  expired: boolean;
  sent: number;
  polled: number;
  notified: number;
}

export interface BridgeConfig {
  role: 'nse' | 'app';
  masterKeyHex?: string;
  queueKeys: Record<string, string>;
  lockTimeoutMs?: number;
  gateTimeoutMs?: number;
  /** NSE: yield/grace drain; app: expiry drain (default 1000) */
  drainDeadlineMs?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** queueId → its conversation, the same string on each of the user's devices (read markers name it). */
  conversations?: Record<string, string>;
  /** This device's device-sync queue (one of queueKeys): the other devices' read markers arrive on it. */
  deviceSyncQueue?: string;
  // NSE only
  notifiers?: Record<string, { queueId: string; keyHex: string }>;
  maxExtraGets?: number;
  forcedDeliveryMs?: number;
  graceMs?: number;
  // app only
  mode?: 'instant' | 'lowPower';
  sendQueues?: string[];
  statusKeys?: Record<string, string>;
  pingIntervalMs?: number;
  pollIntervalMs?: number;
  syncMaxBatch?: number;
  /** The token iOS gave (hex), or null while none: given (even null), the app registers it itself. */
  pushToken?: string | null;
  /** What pushTokenSave last saved (absent at the first launch). */
  pushTokenState?: WirePushTokenState;
  /** Sent with NSUB (defaults 'ios', '1.0.0'). */
  platform?: string;
  appVersion?: string;
  /** The user's background-refresh setting as stored (default false). */
  backgroundRefresh?: boolean;
}

export interface NotificationRequest {
  requestId: string;
  /** queues of config.queueKeys */
  queueIds?: string[];
  /** The push payload's userInfo["nids"], unchanged (host-setup.md §3). */
  nids?: { notifierId: string; sealed: string }[];
}

/** What the NSE's Swift calls (nsekit-nse.js). */
export interface NseCoreApi {
  readonly version: string;
  phase(): BridgePhase;
  /** Check the lock state first (host-setup.md §2). Resolves when the push is finished, possibly long after contentReady. */
  didReceiveNotification(req: NotificationRequest): Promise<NotificationResult>;
  serviceExtensionTimeWillExpire(): Promise<void>;
  yieldRequested(): Promise<void>;
  appLeftForeground(): void;
  protectedDataWillBecomeUnavailable(): Promise<void>;
  protectedDataDidBecomeAvailable(masterKeyHex?: string): Promise<void>;
}

/** What the app's Swift calls (nsekit-app.js). */
export interface AppCoreApi {
  readonly version: string;
  phase(): BridgePhase;
  /** `threadId`: opened by a tap on a notification of that thread (docs/notifications.md "Tap"). */
  appDidBecomeActive(threadId?: string): Promise<void>;
  appDidEnterBackground(): Promise<void>;
  backgroundTaskWillExpire(): Promise<void>;
  protectedDataWillBecomeUnavailable(): Promise<void>;
  protectedDataDidBecomeAvailable(masterKeyHex?: string): Promise<ImportSummary>;
  send(queueId: string, text: string, clientId?: string): Promise<void>;
  /** didRegisterForRemoteNotificationsWithDeviceToken with a new token (null: revoked). Needs config.pushToken. */
  pushTokenChanged(token: string | null): void;
  logout(): Promise<void>;
  login(): Promise<void>;
  /** A BGAppRefreshTask ('refresh') or a content-available push ('silent-push', its queue) with iOS's budget. */
  window(kind: 'refresh' | 'silent-push', budgetMs: number, queueId?: string): Promise<WireWindowResult>;
  /** The Settings screen's toggle. */
  settings(s: { backgroundRefresh?: boolean }): void;
}

/** The global each bundle defines (`var NsekitCore`). */
export interface NsekitCoreGlobal<Host, Api> {
  version: string;
  HOST_FUNCTIONS: readonly (keyof Host)[];
  createCore(host: Host, config: BridgeConfig): Api;
  /** Test helpers: a sender's sealed body / a push's sealed notification id, from fixed 24-byte hex nonces. */
  sealE2eBody(keyHex: string, queueId: string, content: { type: string; text?: string; from?: string; group?: string }, nonceHex: string): string;
  sealNid(keyHex: string, notifierId: string, msgId: string, ts: number, nonceHex: string): string;
}
export type NsekitNseGlobal = NsekitCoreGlobal<NseBridgeHost, NseCoreApi>;
export type NsekitAppGlobal = NsekitCoreGlobal<AppBridgeHost, AppCoreApi>;
declare global {
  // eslint-disable-next-line no-var
  var NsekitCore: NsekitNseGlobal | NsekitAppGlobal;
}
