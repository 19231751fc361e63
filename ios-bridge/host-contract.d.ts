/**
 * nsekit bridge — host contract (TypeScript declaration for the iOS team).
 * Prose, threading, lifecycle and error codes: host-contract.md.
 * Source of truth in the repo: src/core/bridge/contract.ts (kept in sync by test/bridge/contract.test.ts).
 *
 * Conventions
 * - Bytes cross as base64 (bodies, sealed envelopes) or lowercase hex (randomness, keys).
 * - Async host functions take a last argument `done(err, result)`: call it exactly once,
 *   later, on the JS queue — never from inside the call itself. `err` is null on success.
 * - Sync host functions return at once and must not throw (log, contentReady, phaseChanged)
 *   or throw only for a broken host (now, setTimer, clearTimer, randomHex).
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
  notification: boolean;
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

export interface WireContent {
  msgId: string;
  queueId: string;
  title: string;
  body: string;
}

export interface NotificationResult {
  requestId: string;
  status: 'complete' | 'partial' | 'expired' | 'locked';
  title: string;
  body: string;
  messages: WireContent[];
  errors: string[];
}

export type BridgePhase = 'active' | 'background' | 'suspending' | 'suspended' | 'activating';

/** What Swift implements and passes to NsekitCore.createCore. */
export interface BridgeHost {
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
  inboxAppend(m: WireStoredMessage, done: Done<null>): void;
  inboxMarkNotified(msgId: string, queueId: string, done: Done<boolean>): void;
  inboxIsNotified(msgId: string, done: Done<boolean>): void;
  inboxClaim(done: Done<InboxClaim | null>): void;
  inboxClaimDone(claimId: string, done: Done<null>): void;
  transportGet(queueId: string, done: Done<WireRelayMessage | null>): void;
  transportAck(queueId: string, msgId: string, done: Done<null>): void;
  contentReady(requestId: string, result: NotificationResult): void;
  phaseChanged(phase: BridgePhase): void;
}

export interface BridgeConfig {
  role: 'nse' | 'app';
  masterKeyHex?: string;
  queueKeys: Record<string, string>;
  notifiers?: Record<string, { queueId: string; keyHex: string }>;
  maxExtraGets?: number;
  forcedDeliveryMs?: number;
  drainDeadlineMs?: number;
  graceMs?: number;
  lockTimeoutMs?: number;
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  gateTimeoutMs?: number;
}

export interface NotificationRequest {
  requestId: string;
  queueIds?: string[];
  nids?: { notifierId: string; sealed: string }[];
}

/** What Swift calls. Promise-returning methods: attach `.then(ok, fail)` from Swift. */
export interface NsekitCoreApi {
  readonly version: string;
  phase(): BridgePhase;
  didReceiveNotification(req: NotificationRequest): Promise<NotificationResult>;
  serviceExtensionTimeWillExpire(): Promise<void>;
  yieldRequested(): Promise<void>;
  appDidEnterBackground(): void;
  backgroundTaskWillExpire(): Promise<void>;
  appDidBecomeActive(): Promise<void>;
  protectedDataWillBecomeUnavailable(): Promise<void>;
  protectedDataDidBecomeAvailable(masterKeyHex?: string): Promise<ImportSummary>;
}

/** The global the bundle defines (`var NsekitCore`). */
export interface NsekitCoreGlobal {
  version: string;
  HOST_FUNCTIONS: readonly (keyof BridgeHost)[];
  createCore(host: BridgeHost, config: BridgeConfig): NsekitCoreApi;
  /** Test helpers: a sender's sealed body / a push's sealed notification id, from fixed 24-byte hex nonces. */
  sealE2eBody(keyHex: string, queueId: string, content: { type: string; text?: string; from?: string; group?: string }, nonceHex: string): string;
  sealNid(keyHex: string, notifierId: string, msgId: string, ts: number, nonceHex: string): string;
}
declare global {
  // eslint-disable-next-line no-var
  var NsekitCore: NsekitCoreGlobal;
}
