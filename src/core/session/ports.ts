/**
 * The ports a session runs against: every effect the app and NSE sessions
 * have goes through one of these. The Node processes plug in the real flock,
 * SQLite store, JSONL inbox and ws transport (src/node/session-ports.ts); the
 * fast simulator plugs in in-memory ones (sim/fast); the bridge plugs in the
 * Swift host's. See docs/processes.md "Sessions and ports".
 */
import type { KeyRing } from '../crypto/index.js';
import type { Lock, MessageFlags, PendingInbox, SendOptions, Store, StoredMessage, Transport } from '../host.js';
import type { QuarantineInput } from '../inbound/index.js';

/** The cross-process lock as a session needs it: plus the foreground app's yield request. */
export interface SessionLock extends Lock {
  /** Priority: ask whoever holds the lock to yield (the foreground app wins). */
  requestYield(): void;
  /**
   * Withdraw this process's own request: the app left the foreground before it
   * took the lock, so a process acquiring later must not yield to it.
   */
  withdrawYield(): void;
  /**
   * Another process's request is active now, whether or not this one holds the lock: the NSE
   * asks before each GET, so a GET never goes out beside the app that asked even when the
   * device's word (a frozen NSE reads its commands only after it was thawed) comes late.
   */
  yieldPending(): boolean;
  /** Called in the holder when another process asked it to yield. Returns an unsubscribe. */
  onYieldRequested(fn: () => void): () => void;
  /** Releases if held, closes files, watchers and timers. Idempotent. */
  close(): Promise<void>;
}

export type OutboxState = 'pending' | 'sending' | 'sent' | 'failed';
export interface OutboxItem {
  clientId: string;
  queueId: string;
  /** Sealed by the caller with the outbox key. */
  body: Uint8Array;
  state: OutboxState;
  /** SENDs tried (each counted when the item is marked `sending` right before it). */
  attempts: number;
  updatedAt: number;
  /** When it was queued: the age cap counts from here (a host without it gets the attempt cap only). */
  createdAt?: number;
  /** Why it is `failed` (an error code), once it is. */
  lastError?: string | null;
}
/** A message that can never be processed, kept as received (docs/receive.md "Quarantine"). */
export interface QuarantineEntry extends QuarantineInput {
  /** How many times it was met (re-fetched after a lost ACK, retried). */
  attempts: number;
  firstAt: number;
  lastAt: number;
}
export interface Cursor {
  lastMsgId: string | null;
  lastTs: number;
}

/** The shared encrypted store: opened and closed with the phase, keyed with the device's lock state. */
export interface SessionStore extends Store {
  readonly isOpen: boolean;
  /** The master key was verified against the store's key check. */
  readonly unlocked: boolean;
  open(): void;
  /** Waits for write transactions in flight, checkpoints and lets every file lock go. */
  close(): Promise<void>;
  unlock(masterKey: Uint8Array, ring?: KeyRing): Promise<void>;
  lockDevice(): void;
  /** Batched, deduping insert that also records `notified` ids in the same transaction (inbox import). */
  putMessages(ms: StoredMessage[], notified?: readonly string[]): Promise<number>;
  countMessages(): Promise<number>;
  getCursor(queueId: string): Promise<Cursor>;
  setCursor(queueId: string, c: Cursor): Promise<void>;
  outboxAdd(item: { clientId: string; queueId: string; body: Uint8Array }): Promise<boolean>;
  /** Items still to send, oldest first: neither `sent` nor `failed` (a host that returns `failed` ones too has them skipped). */
  outboxPending(): Promise<OutboxItem[]>;
  /** `sending` counts an attempt; `failed` is the dead letter, with `info.error` its reason (kept as `lastError`). */
  outboxMark(clientId: string, state: Exclude<OutboxState, 'pending'>, info?: { error?: string }): Promise<void>;
  /**
   * Optional port methods (the Node and fast stores have them; a host without them keeps the
   * behaviour described with each). Items in one state, oldest first (e.g. the dead letters).
   */
  outboxList?(state: OutboxState): Promise<OutboxItem[]>;
  /** Delete `sent` rows but the `keepSent` most recent; returns how many went. Without it sent rows stay. */
  outboxPrune?(keepSent: number): Promise<number>;
  /**
   * Keep a message that can never be processed (sealed as received) with its reason; true if it
   * was not there yet (a repeat bumps `attempts`). Durable on resolve: only then is it ACKed.
   * Without it such a message is not ACKed and stays at the head of its queue.
   */
  quarantineAdd?(e: QuarantineInput): Promise<boolean>;
  /** The quarantine, oldest first (one queue's, or all). */
  quarantineList?(queueId?: string): Promise<QuarantineEntry[]>;
  /** Take an entry out (it was processed on a retry); false if it was not there. */
  quarantineRemove?(msgId: string): Promise<boolean>;
  /**
   * The read state (docs/notifications.md "Unread"). Stored messages with the notification flag
   * not read yet: the app icon's badge. Without these methods no badge is set and nothing is read.
   */
  unreadCount?(): Promise<number>;
  /** The same for one conversation (a background window posts no generic banner beside unread ones). */
  unreadInThread?(queueId: string): Promise<number>;
  /** Has msgId's conversation been opened since it was stored? (false for an unknown msgId) */
  isRead?(msgId: string): Promise<boolean>;
  /**
   * The conversation was opened: every message of the queue stored so far is read — with `upToTs`,
   * only those whose relay `ts` is at most it (a read on another device). Returns the msgIds that became read.
   */
  markThreadRead?(queueId: string, upToTs?: number): Promise<string[]>;
  /** The largest relay `ts` of the queue's stored messages (null: none): how far a read here reaches. */
  threadLastTs?(queueId: string): Promise<number | null>;
}

/** What an inbox import needs from the store. */
export interface InboxImportTarget {
  putMessages(ms: StoredMessage[], notified?: readonly string[]): Promise<number>;
}
export interface ImportOptions {
  /**
   * Re-seal a record for the store (e.g. inbox key → body key). Default: store as is.
   * A CRYPTO_* error sets that record aside (`.rejected`); any other error aborts the import.
   */
  transform?: (r: StoredMessage) => StoredMessage | Promise<StoredMessage>;
  /** Records per store transaction (default 500). */
  batchSize?: number;
  /** How long to wait for in-flight appenders to finish (default 5000 ms) → INBOX_IO. */
  timeoutMs?: number;
}
export interface ImportResult {
  files: number;
  records: number;
  /** `notified` marker lines (carried ones included) moved into the store's notifications. */
  markers: number;
  /** Marker lines carried into the live file (kept in sight of locked processes, MARKER_CARRY_MS). */
  carried: number;
  inserted: number;
  duplicates: number;
  torn: number;
  bad: number;
  rejected: number;
}
/**
 * How long an import keeps carrying a `notified` marker into the fresh live file (docs/receive.md
 * "Markers"). A message shown but not yet ACKed may be fetched again — by either process, locked,
 * after any number of imports — and the marker is the only record of the banner a locked process
 * can read. A day covers every retry path; a marker older than that is dropped (at worst a second
 * generic banner, never a lost message).
 */
export const MARKER_CARRY_MS = 24 * 60 * 60 * 1000;

export const emptyImportResult = (): ImportResult => ({ files: 0, records: 0, markers: 0, carried: 0, inserted: 0, duplicates: 0, torn: 0, bad: 0, rejected: 0 });

/** The device-locked fallback file, plus its import into the store (claim, insert, unlink). */
export interface SessionInbox extends PendingInbox {
  importInto(store: InboxImportTarget, opts?: ImportOptions): Promise<ImportResult>;
}

export interface QueueCreds {
  recipientCred?: string;
  senderCred?: string;
}

/** The relay connection (one socket per process). */
export interface SessionTransport extends Transport {
  readonly connected: boolean;
  connect(): Promise<void>;
  close(): Promise<void>;
  ping(): Promise<void>;
  sendWithResult(queueId: string, body: Uint8Array, flags: MessageFlags, opts?: SendOptions): Promise<{ msgId?: string; duplicate: boolean }>;
  setQueueCreds(queueId: string, creds: QueueCreds): void;
  /** The socket closed (or was lost). Returns an unsubscribe. */
  onClose(fn: () => void): () => void;
  /** The relay ended one queue's subscription (another subscriber took it). */
  onEnd(fn: (queueId: string) => void): () => void;
  /**
   * Register the device's push token for a queue (NSUB, docs/protocol.md "Push tokens"). Optional:
   * without it the app cannot register a token (the host registered one itself).
   */
  nsub?(queueId: string, deviceToken: string, meta: { platform?: string; appVersion?: string }): Promise<{ notifierId: string; notifierKey: Uint8Array }>;
  /** Deactivate the queue's push token (NDEL, at logout). */
  ndel?(queueId: string): Promise<void>;
}

/** What the app persisted about its push token (UserDefaults on iOS): survives a relaunch. */
export interface PushTokenState {
  /** The token last registered at the relay for every queue, and when (host clock); null: none / deactivated. */
  registered: { token: string; at: number } | null;
  /** The user logged out: nothing is registered or fetched until a login. */
  loggedOut: boolean;
  /** A logout whose deactivation (NDEL) has not reached the relay yet: the next connect retries it. */
  deactivatePending: boolean;
}

/**
 * The device's push token as the OS hands it to the app (docs/processes.md "Push tokens").
 * The Node device supplies it over IPC, the fast simulator an in-memory one, the bridge the
 * Swift host's (didRegisterForRemoteNotificationsWithDeviceToken).
 */
export interface PushTokenPort {
  /** e.g. `ios`. */
  readonly platform: string;
  readonly appVersion: string;
  /** The token the OS gave; null while it has given none (or revoked it). */
  current(): string | null;
  /** The OS gave a new token (or took it back: null). Returns an unsubscribe. */
  onChange(fn: (token: string | null) => void): () => void;
  load(): PushTokenState;
  save(s: PushTokenState): void;
}

/**
 * The token half of a PushTokenPort, shared by the hosts: the token the OS gave, its listeners,
 * and `setToken` for the host to call when the OS gives a new one (or takes it back).
 */
export function tokenSource(initial: string | null): Pick<PushTokenPort, 'current' | 'onChange'> & { setToken(t: string | null): void } {
  let token = initial;
  const listeners = new Set<(t: string | null) => void>();
  return {
    current: () => token,
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    setToken(t) {
      if (t === token) return;
      token = t;
      for (const fn of listeners) fn(t);
    },
  };
}

/** One HTTP GET of the relay's signed status endpoint (low-power mode). */
export interface StatusClient {
  get(path: string): Promise<{ status: number; body: unknown }>;
}

export interface SessionPorts {
  lock: SessionLock;
  store: SessionStore;
  inbox: SessionInbox;
  transport: SessionTransport;
  /** The device's push token (app only); without it the app registers none (the host did). */
  pushToken?: PushTokenPort;
  /** Low-power polling; without it a poll answers "fetch" (the app cannot ask). */
  status?: StatusClient;
  /**
   * The NSE's cold path (GET → store → ACK → content) has run once: a host that
   * caches compiled code saves it now, before the content goes out (iOS may
   * kill the extension right after).
   */
  coldPathReady?(): void;
}
