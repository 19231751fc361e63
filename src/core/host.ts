/**
 * The host interface: everything the portable core needs from its runtime.
 * Node (src/node) and Swift (ios-bridge/swift) each provide one. The core never
 * touches ambient clocks, randomness, timers, console or crypto — only these.
 */

/** Monotonic-enough milliseconds plus one-shot timers. Simulated in tests. */
export interface Clock {
  now(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}
export type TimerHandle = { readonly id: number } | number | object;

export interface Rng {
  /** Cryptographically secure random bytes. */
  randomBytes(n: number): Uint8Array;
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export interface Log {
  /** `tag` is one of the structured tags: phase, lock, rt, sync, outbox, push, nse, store, inbox, queue. */
  log(level: LogLevel, tag: string, msg: string, fields?: Record<string, unknown>): void;
}

/**
 * Named failpoints ("lock.acquired", "db.tx.begin", "net.ack.sent", …). A
 * simulator may pause the process at one; returning void means "go on now".
 * Hosts without a simulator pass `noFailpoints` so the call is free.
 */
export interface Failpoints {
  hit(name: string, fields?: Record<string, unknown>): void | Promise<void>;
}
export const noFailpoints: Failpoints = { hit() {} };

/** What a process learns when it takes the cross-process lock. */
export interface LockGrant {
  /** Shared generation at acquisition (increments on every release after a write). */
  generation: number;
  /** True if another process wrote since this process last held the lock: reload caches. */
  dirty: boolean;
}

/** Cross-process exclusive lock around every shared-store write transaction. */
export interface Lock {
  acquire(opts?: { timeoutMs?: number }): Promise<LockGrant>;
  /** `wrote: true` bumps the shared generation before the lock is let go. */
  release(opts?: { wrote?: boolean }): Promise<void>;
  readonly held: boolean;
}

/** Flags the relay returns with a message. `notification` is set by the sender. */
export interface MessageFlags {
  notification: boolean;
}

/** A message as the relay hands it out (body still sealed end to end). */
export interface RelayMessage {
  msgId: string;
  queueId: string;
  /** Relay timestamp, ms. */
  ts: number;
  flags: MessageFlags;
  /** Opaque body (base64 on the wire, bytes here). */
  body: Uint8Array;
}

/** The network side of a process: relay commands for queues this process receives on. */
export interface Transport {
  /** Peek the first un-ACKed message, or null if the queue is empty. */
  get(queueId: string): Promise<RelayMessage | null>;
  /** Delete `msgId` at the relay. Only after the message is durable locally. */
  ack(queueId: string, msgId: string): Promise<void>;
  subscribe(queueId: string, onMessage: (m: RelayMessage) => void): Promise<void>;
  unsubscribe(queueId: string): Promise<void>;
  /** `clientId` makes a resend idempotent at the relay (docs/protocol.md "Idempotent SEND"). */
  send(queueId: string, body: Uint8Array, flags: MessageFlags, opts?: SendOptions): Promise<void>;
}
export interface SendOptions {
  /** 1..64 of [A-Za-z0-9_-], unique per queue; the same id on every resend of one message. */
  clientId?: string;
}

/** A message as the store keeps it: the body sealed, never plaintext. */
export interface StoredMessage {
  msgId: string;
  queueId: string;
  ts: number;
  flags: MessageFlags;
  /** Sealed envelope bytes (see core/crypto). */
  sealed: Uint8Array;
}

/**
 * The shared encrypted store as the core sees it. Writes are idempotent on
 * msgId. Implementations take the cross-process lock and the database gate.
 */
export interface Store {
  /** Insert; returns false if msgId was already stored (dedupe). Durable on resolve. */
  putMessage(m: StoredMessage): Promise<boolean>;
  hasMessage(msgId: string): Promise<boolean>;
  /** Record that a notification was shown; false if it already was. */
  markNotified(msgId: string): Promise<boolean>;
}

/**
 * Device-locked fallback: append-only file of sealed envelopes. Durable on resolve.
 * It also keeps the locked device's "notified" record (a marker line per msgId): the store's
 * `notifications` table cannot be read or written without the key. The import carries the
 * markers into that table.
 */
export interface PendingInbox {
  append(m: StoredMessage): Promise<void>;
  /** Record that the generic notification for msgId is shown; false if it already was. Durable on resolve. */
  markNotified(msgId: string, queueId: string): Promise<boolean>;
  /** Read-only: was a notification for msgId recorded by markNotified and not imported yet? */
  isNotified(msgId: string): Promise<boolean>;
}

export type ContentKind = 'text' | 'image' | 'group_message' | 'receipt' | 'other';
export interface NotificationContent {
  msgId: string;
  queueId: string;
  title: string;
  body: string;
  /**
   * The conversation it belongs to (= its queue), for iOS to group by (`threadIdentifier`) and a
   * tap to route to. Set on every notification the sessions show (docs/notifications.md).
   */
  threadId?: string;
  /** Unread messages after this one (the app icon's badge); absent = leave the badge as it is. */
  badge?: number;
}
export interface Notifier {
  /** Show (or hand to the OS as NSE content) one user-visible notification. */
  show(content: NotificationContent): Promise<void>;
}

/** All host services bundled, as handed to core constructors. */
export interface Host {
  clock: Clock;
  rng: Rng;
  log: Log;
  failpoints: Failpoints;
}

/**
 * Operation classes, as in SimpleX less its `delivery` (no work here fits it: docs/phase-machine.md
 * "Operation classes and drain order"). Suspension drains them in this order; activation reopens
 * them in reverse. notificationNetwork: the NSE's push-triggered receives; receiveNetwork: the app's.
 */
export type OpClass = 'notificationNetwork' | 'receiveNetwork' | 'sendNetwork' | 'database';
export const DRAIN_ORDER: readonly OpClass[] = ['notificationNetwork', 'receiveNetwork', 'sendNetwork', 'database'];
export const NETWORK_CLASSES: readonly OpClass[] = ['notificationNetwork', 'receiveNetwork', 'sendNetwork'];

/**
 * The bracket every network and database operation runs in. While the class is
 * blocked a new operation waits (never runs, never silently fails) until the
 * class reopens or `timeoutMs` passes (then NsekitError GATE_TIMEOUT).
 */
export interface Gate {
  run<T>(cls: OpClass, fn: () => T | Promise<T>, opts?: { timeoutMs?: number }): Promise<T>;
}

/** A gate that never blocks: for tools and tests that run outside a phase machine. */
export const openGate: Gate = { run: async (_cls, fn) => fn() };
