/**
 * The JS-visible host objects a native (Swift) host implements — one for the
 * NSE bundle (nsekit-nse.js), one for the app bundle (nsekit-app.js) — and the
 * wire shapes crossing the boundary. Mirrored for the iOS team in
 * ios-bridge/host-contract.d.ts and described in ios-bridge/host-contract.md.
 *
 * Boundary rules (why): JSValue bridges strings, numbers, booleans, plain
 * objects, arrays and functions cleanly, but not Data ↔ Uint8Array, so bytes
 * cross as base64 (bodies) or hex (randomness, keys). Async host work answers
 * through a Node-style callback `done(err, result)` that the host calls exactly
 * once, later, on the JS queue (never from inside the call itself).
 */

/** Error a host reports: `code` is one of ErrorCodes (src/core/errors.ts). */
export interface BridgeError {
  code: string;
  message: string;
}
export type Done<T> = (err: BridgeError | null, result?: T) => void;

/** A relay message as the host's transport hands it over. */
export interface WireRelayMessage {
  msgId: string;
  queueId: string;
  /** Relay timestamp, ms since the epoch. */
  ts: number;
  /** The sender's notification flag, passed through; absent is read as true (host-contract.md `transportGet`). */
  notification?: boolean;
  /** The end-to-end sealed body, base64. */
  body: string;
}

/** A message for the shared store or the pending inbox: sealed, never plaintext. */
export interface WireStoredMessage {
  msgId: string;
  queueId: string;
  ts: number;
  notification: boolean;
  /** Sealed envelope, base64: at-rest sealed (store) or the untouched e2e body (inbox). */
  sealed: string;
}

/** A claimed pending-inbox file. */
export interface InboxClaim {
  claimId: string;
  records: WireStoredMessage[];
  /** msgIds of its `notified` marker lines (a generic notification was shown while locked). */
  notified: string[];
  /** Incomplete final line (crash mid-append), skipped. */
  torn: number;
  /** Complete lines that are not valid records, skipped. */
  bad: number;
}

/** What an inbox import did (the app's protectedDataDidBecomeAvailable resolves with it). */
export interface ImportSummary {
  records: number;
  /** `notified` markers recorded in the store (storeMarkNotified answered true). */
  notified: number;
  inserted: number;
  duplicates: number;
  /** Records whose body did not open (CRYPTO_*): set aside, never retried. */
  rejected: number;
  torn: number;
  bad: number;
}

/** One user-visible notification (UNNotificationContent title/body). */
export interface WireContent {
  msgId: string;
  queueId: string;
  title: string;
  body: string;
}

/** How a notification request ended; what Swift hands to the NSE's contentHandler. */
export interface NotificationResult {
  requestId: string;
  /**
   * complete: every queue was fetched; partial: an error or the app cut it short (a yield, or
   * the app was in front when the push came: no GET at all); expired: the NSE's budget timer
   * (forcedDeliveryMs) or serviceExtensionTimeWillExpire came first; locked: device locked,
   * messages went to the pending inbox.
   */
  status: 'complete' | 'partial' | 'expired' | 'locked';
  /** The notification to display: the newest message's, or a generic one. */
  title: string;
  body: string;
  /** Every message shown for this request, oldest first. */
  messages: WireContent[];
  /** The badge: the unread count read last while open (newest message shown, or a `read`); absent: leave it. */
  badge?: number;
  /** Reads on another device applied while open (config.deviceSyncQueue): remove the notifications of `msgIds`. */
  read?: WireRead[];
  /** Error codes met while processing (empty when complete). */
  errors: string[];
}

/** A read on another device, as applied here: these msgIds of the thread became read. */
export interface WireRead {
  threadId: string;
  queueId: string;
  msgIds: string[];
}

export type BridgePhase = 'active' | 'background' | 'suspending' | 'suspended' | 'activating';

/** The store's per-queue sync cursor (app). */
export interface WireCursor {
  lastMsgId: string | null;
  lastTs: number;
}

/** One outbox row (app): `body` is sealed with the outbox key, base64. */
export interface WireOutboxItem {
  clientId: string;
  queueId: string;
  body: string;
  state: 'pending' | 'sending' | 'sent' | 'failed';
  attempts: number;
  updatedAt: number;
}

/** What the app persisted about its push token (UserDefaults): handed back in `config.pushTokenState` at launch. */
export interface WirePushTokenState {
  /** The token last registered at the relay for every queue, and when (host clock, ms); null: none / deactivated. */
  registered: { token: string; at: number } | null;
  /** The user logged out: nothing is registered or fetched until `login()`. */
  loggedOut: boolean;
  /** A logout whose NDELs have not all reached the relay: the next connect sends them. */
  deactivatePending: boolean;
}

/** What a background window did (the app's `window` facade call resolves with it). */
export interface WireWindowResult {
  kind: 'refresh' | 'silent-push';
  /** Why it did nothing (`in_front`, `disabled`, `device_locked`, `relay_unavailable`, `error`); absent when it worked. */
  skipped?: string;
  /** The expiration share of the budget came first (no new work after it). */
  expired: boolean;
  /** Outbox items sent. */
  sent: number;
  /** Low-power status polls made. */
  polled: number;
  /** Local notifications posted (`sessionEvent("local-notification")`). */
  notified: number;
}

/** What both hosts implement. All calls arrive on one serial queue. */
export interface BridgeHostBase {
  // clock — synchronous
  /** Milliseconds since the epoch (Date().timeIntervalSince1970 * 1000). */
  now(): number;
  /** One-shot timer; returns a positive integer id. `fire` must be called on the JS queue. */
  setTimer(ms: number, fire: () => void): number;
  /** Cancel; unknown or already-fired ids are ignored. */
  clearTimer(id: number): void;
  // randomness — synchronous
  /** `n` cryptographically secure random bytes as lowercase hex (SecRandomCopyBytes). */
  randomHex(n: number): string;
  // log — synchronous, must not throw
  /** `fields` is a JSON object string ("{}" when none). Never contains keys or plaintext. */
  log(level: 'debug' | 'info' | 'warn' | 'error', tag: string, msg: string, fields: string): void;
  // cross-process lock — asynchronous
  /** Exclusive flock on the app-group lock file; LOCK_TIMEOUT after timeoutMs. */
  lockAcquire(timeoutMs: number, done: Done<{ generation: number; dirty: boolean }>): void;
  /** `wrote` bumps the shared generation before unlocking. LOCK_NOT_HELD if not held. */
  lockRelease(wrote: boolean, done: Done<null>): void;
  // shared store — asynchronous; the host opens it lazily, the core holds the lock around writes
  /** Idempotent insert; result false = msgId already stored. */
  storePut(m: WireStoredMessage, done: Done<boolean>): void;
  /** Record "notification shown"; false = it already was (at most once across processes). */
  storeMarkNotified(msgId: string, done: Done<boolean>): void;
  /** Finish/interrupt the current statement, wal_checkpoint(TRUNCATE), close the DB file. */
  storeClose(done: Done<null>): void;
  // read state (host-contract.md "Read state"): reads take no lock; storeMarkThreadRead is a write inside it
  /** Stored messages with the notification flag not read yet (the app icon's badge). */
  storeUnreadCount(done: Done<number>): void;
  /** Has msgId been marked read? false for an unknown msgId. */
  storeIsRead(msgId: string, done: Done<boolean>): void;
  /** Mark the queue's unread messages read (with `upTo`: only those whose ts ≤ upTo) → the msgIds that became read, in insertion order. */
  storeMarkThreadRead(queueId: string, upTo: number | null, done: Done<string[]>): void;
  /** The largest ts of the queue's stored messages, null when it has none. */
  storeThreadLastTs(queueId: string, done: Done<number | null>): void;
  // pending inbox — asynchronous
  /** Append one line and fsync; durable when done(null) is called. */
  inboxAppend(m: WireStoredMessage, done: Done<null>): void;
  /**
   * Under an exclusive flock on the inbox file: if no `notified` marker (own or carried) for msgId is in
   * it (or in an unfinished claim), append one and fsync → true; else false. At most once, like storeMarkNotified.
   */
  inboxMarkNotified(msgId: string, queueId: string, done: Done<boolean>): void;
  // relay transport — asynchronous
  /** Peek the first un-ACKed message of the queue (null if empty). */
  transportGet(queueId: string, done: Done<WireRelayMessage | null>): void;
  /** Delete msgId at the relay. */
  transportAck(queueId: string, msgId: string, done: Done<null>): void;
  // what the core tells the host — synchronous, must not throw
  /** Phase changes; 'suspended' means: DB closed, lock free — end the background task / let the NSE be frozen. */
  phaseChanged(phase: BridgePhase): void;
}

/** The object the NSE's Swift passes to NsekitCore.createCore (bundle nsekit-nse.js). */
export interface NseBridgeHost extends BridgeHostBase {
  /**
   * Synchronous: is the app's yield request active now (written by the app's lockRequestYield less
   * than 10 s ago, not withdrawn)? Asked before every GET: the app in front fetches, the NSE does not.
   */
  lockYieldPending(): boolean;
  /** The NSE's content for requestId: call contentHandler with it. Called exactly once per request. */
  contentReady(requestId: string, result: NotificationResult): void;
}

/** The object the app's Swift passes to NsekitCore.createCore (bundle nsekit-app.js). */
export interface AppBridgeHost extends BridgeHostBase {
  /** Synchronous: record the app's yield request in the app group (read by the NSE's lockYieldPending) and post "app active". */
  lockRequestYield(): void;
  /** Synchronous: remove this app's yield request (it took the lock, or left the foreground). */
  lockWithdrawYield(): void;
  /** Read the queue's sync cursor ({lastMsgId: null, lastTs: 0} if none). No lock. */
  storeGetCursor(queueId: string, done: Done<WireCursor>): void;
  /** Write the queue's sync cursor (inside lockAcquire/lockRelease). */
  storeSetCursor(queueId: string, cursor: WireCursor, done: Done<null>): void;
  /** Insert an outbox row in state 'pending' (inside the lock); false = clientId already there. */
  outboxAdd(item: { clientId: string; queueId: string; body: string }, done: Done<boolean>): void;
  /** Every row not 'sent', oldest first. No lock. */
  outboxPending(done: Done<WireOutboxItem[]>): void;
  /** Set a row's state (inside the lock); 'sending' also counts an attempt; unknown clientId is ignored. */
  outboxMark(clientId: string, state: 'sending' | 'sent' | 'failed', done: Done<null>): void;
  /**
   * Claim the pending inbox for import (atomically: rename it to a claim file, so appends go to a new
   * file). Returns an unfinished earlier claim first. null = nothing pending. Complete lines only:
   * records in `records`, marker lines' msgIds (own and carried) in `notified`; `torn`/`bad` count
   * skipped lines. Before answering, append the claim's markers to the live file as carried markers
   * (`"carried":true,"at":<ms>`, fsync): own markers with `at` = now, carried ones with their `at` while
   * younger than 24 h (MARKER_CARRY_MS), none whose id the live file has already — so locked processes
   * still see them across imports for a day (host-contract.md `inboxClaim`).
   */
  inboxClaim(done: Done<InboxClaim | null>): void;
  /** Every record of the claim is durable in the store: delete the claim file. */
  inboxClaimDone(claimId: string, done: Done<null>): void;
  /** Open the relay connection (idempotent). Later, call onClose() once when it ends, onEnd(queueId) when the relay ENDs a subscription. */
  transportConnect(onClose: () => void, onEnd: (queueId: string) => void, done: Done<null>): void;
  /** SUB; then call onMessage(msg) on the JS queue for each MSG of the queue (the relay sends the next after the ACK). */
  transportSubscribe(queueId: string, onMessage: (m: WireRelayMessage) => void, done: Done<null>): void;
  /** UNSUB: no more onMessage for the queue. */
  transportUnsubscribe(queueId: string, done: Done<null>): void;
  /** SEND with the idempotency clientId; duplicate = the relay already had this clientId. */
  transportSend(queueId: string, body: string, notification: boolean, clientId: string, done: Done<{ msgId?: string; duplicate: boolean }>): void;
  /** Keep-alive PING → PONG. */
  transportPing(done: Done<null>): void;
  /** One HTTP GET of the relay's signed status endpoint (low-power mode): `path` is absolute, with query. */
  statusGet(path: string, done: Done<{ status: number; body: unknown }>): void;
  /** What the app session reports (`left-front`, `notification`, `wake`, `outbox`, `rt`, `error`, …), fields as a plain object. */
  sessionEvent(name: string, fields: Record<string, unknown>): void;
  // push token — only needed with `config.pushToken` (APP_PUSH_TOKEN_FUNCTIONS)
  /** NSUB: register `deviceToken` for the queue (the host holds its recipient credential). → the relay's NID, `notifierKey` base64 (32 bytes). */
  transportNsub(queueId: string, deviceToken: string, platform: string, appVersion: string, done: Done<{ notifierId: string; notifierKey: string }>): void;
  /** NDEL: deactivate the queue's token at the relay (logout). */
  transportNdel(queueId: string, done: Done<null>): void;
  /** Synchronous, must not throw: persist the push-token state (UserDefaults); hand it back as `config.pushTokenState` at the next launch. */
  pushTokenSave(state: WirePushTokenState): void;
}

/** Either host (the bridge's shared code). */
export type BridgeHost = BridgeHostBase & Partial<NseBridgeHost> & Partial<AppBridgeHost>;

// Written out (no spread): esbuild drops an unused array literal, so the NSE bundle carries no app list.
/** Every function the NSE's host object has, in contract order (tests compare it with the docs and transcripts). */
export const NSE_HOST_FUNCTIONS = [
  'now',
  'setTimer',
  'clearTimer',
  'randomHex',
  'log',
  'lockAcquire',
  'lockRelease',
  'storePut',
  'storeMarkNotified',
  'storeClose',
  'storeUnreadCount',
  'storeIsRead',
  'storeMarkThreadRead',
  'storeThreadLastTs',
  'inboxAppend',
  'inboxMarkNotified',
  'transportGet',
  'transportAck',
  'phaseChanged',
  'lockYieldPending',
  'contentReady',
] as const satisfies readonly (keyof NseBridgeHost)[];

/** Every function the app's host object has: the NSE's first nineteen, then the app's own. */
export const APP_HOST_FUNCTIONS = [
  'now',
  'setTimer',
  'clearTimer',
  'randomHex',
  'log',
  'lockAcquire',
  'lockRelease',
  'storePut',
  'storeMarkNotified',
  'storeClose',
  'storeUnreadCount',
  'storeIsRead',
  'storeMarkThreadRead',
  'storeThreadLastTs',
  'inboxAppend',
  'inboxMarkNotified',
  'transportGet',
  'transportAck',
  'phaseChanged',
  'lockRequestYield',
  'lockWithdrawYield',
  'storeGetCursor',
  'storeSetCursor',
  'outboxAdd',
  'outboxPending',
  'outboxMark',
  'inboxClaim',
  'inboxClaimDone',
  'transportConnect',
  'transportSubscribe',
  'transportUnsubscribe',
  'transportSend',
  'transportPing',
  'statusGet',
  'sessionEvent',
  'transportNsub',
  'transportNdel',
  'pushTokenSave',
] as const satisfies readonly (keyof AppBridgeHost)[];

/** The app's host functions needed only when `config.pushToken` is given (the app registers the device's push token itself). */
export const APP_PUSH_TOKEN_FUNCTIONS = ['transportNsub', 'transportNdel', 'pushTokenSave'] as const satisfies readonly (keyof AppBridgeHost)[];

/** Configuration passed with the host to createCore (both roles; role-only keys say so). */
export interface BridgeConfig {
  /** 'nse' with nsekit-nse.js, 'app' with nsekit-app.js (anything else: BRIDGE_BAD_INPUT). */
  role: 'nse' | 'app';
  /** 64 hex chars: the store master key; omit when the device is locked. */
  masterKeyHex?: string;
  /** queueId → 64-hex end-to-end key for the queues this process receives on. */
  queueKeys: Record<string, string>;
  /** Push notifierId → the queue it stands for and its 64-hex notifier key (NSE: for sealed nids). */
  notifiers?: Record<string, { queueId: string; keyHex: string }>;
  /**
   * queueId → the conversation it carries, the same string on each of the user's devices: a read
   * marker names the conversation (docs/notifications.md "Read on another device").
   */
  conversations?: Record<string, string>;
  /** This device's device-sync queue (one of queueKeys): the user's other devices' read markers arrive on it. */
  deviceSyncQueue?: string;
  /** NSE: extra GETs after the first per queue per notification (default 3). */
  maxExtraGets?: number;
  /** NSE: its own budget — best-attempt content this long after the first open request (default 25000). */
  forcedDeliveryMs?: number;
  /** Drain budget after a yield or the grace period (NSE) / backgroundTaskWillExpire (app) (default 1000). */
  drainDeadlineMs?: number;
  /** NSE: suspend this long after the last request finished (default 2000). */
  graceMs?: number;
  /** Lock wait per store write (default 5000). */
  lockTimeoutMs?: number;
  /** Lowest level forwarded to host.log (default 'info'; 'debug' is chatty: every gate step). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** Wait for a blocked gate before GATE_TIMEOUT (default 10000). */
  gateTimeoutMs?: number;
  /** App: 'instant' (SUB, default) or 'lowPower' (status polls). */
  mode?: 'instant' | 'lowPower';
  /** App: the queues it may send on (the host holds their sender credentials; `send` refuses others). */
  sendQueues?: string[];
  /** App: queueId → Ed25519 status key, 64 hex (low-power polls). */
  statusKeys?: Record<string, string>;
  /** App: keep-alive PING period while subscribed (default 5000). */
  pingIntervalMs?: number;
  /** App: low-power poll period (default 1000). */
  pollIntervalMs?: number;
  /** App: GET → store → ACK per batch in the wake sequence (default 20). */
  syncMaxBatch?: number;
  /**
   * App: the push token iOS gave (`didRegisterForRemoteNotificationsWithDeviceToken`, hex), or null while
   * it has given none. Given (even null): the app registers the token itself (NSUB per queue) and needs
   * APP_PUSH_TOKEN_FUNCTIONS; absent: it registers nothing (the host does).
   */
  pushToken?: string | null;
  /** App: what `pushTokenSave` last saved (absent at the first launch). */
  pushTokenState?: WirePushTokenState;
  /** App: sent with NSUB (default 'ios', 1–16 of [a-z0-9]). */
  platform?: string;
  /** App: sent with NSUB (default '1.0.0', 1–32 of [A-Za-z0-9._+-]). */
  appVersion?: string;
  /** App: the user's background-refresh setting as stored (default off; changed at run time with `settings`). */
  backgroundRefresh?: boolean;
}
