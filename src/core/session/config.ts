/**
 * What an app or NSE session is configured with. The Node processes read it
 * from NSEKIT_CONFIG (src/device/ipc.ts adds the file and relay locations);
 * the fast simulator and the bridge build it directly. Secrets (queue
 * credentials) live here because on iOS they live in the app-group keychain
 * the app and NSE share; the master key does not: it comes only with `unlock`.
 */
export interface QueueConfig {
  queueId: string;
  /** Recipient credential for SUB/GET/ACK (hex/base64 string as the relay issued it). */
  recipientKey: string;
  /** Per-queue end-to-end key (hex, 32 bytes) shared with the sender. */
  e2eKey: string;
  /** Ed25519 private key (hex) used to sign low-power status polls. */
  statusKey?: string;
  /** Sender credential, for the app's outbox (sending on this queue). */
  senderKey?: string;
  /** From NSUB's NID answer: lets the NSE map a push to its queue and open the sealed msg id. */
  notifierId?: string;
  /** Notifier key, hex (32 bytes). */
  notifierKey?: string;
  /** Give this queue to one process only (benchmarks: NSE-only queue while the app loads another). */
  only?: 'app' | 'nse';
  /** The conversation this queue carries, the same key on each of the user's devices (docs/notifications.md "Read on another device"). */
  conversation?: string;
  /** This device's device-sync queue: it carries the user's other devices' read markers, never a conversation. */
  deviceSync?: boolean;
}

/** One of the user's other devices, as this device reaches it: that device's device-sync queue (sender side). */
export interface LinkedDevice {
  queueId: string;
  /** Sender credential of that queue. */
  senderKey: string;
  /** That queue's end-to-end key (hex, 32 bytes). */
  e2eKey: string;
}

export type Role = 'app' | 'nse';

/**
 * When a store commit is on stable storage. 'full' (the default): every commit is synced
 * before it resolves, so an ACK — which follows the write — never outruns a power cut.
 * 'normal': commits are synced at checkpoints only; a power cut may take back commits whose
 * messages the relay already deleted. Kept for measurements; see docs/store.md.
 */
export type StoreSync = 'full' | 'normal';
export const DEFAULT_STORE_SYNC: StoreSync = 'full';

export interface SessionConfig {
  role: Role;
  queues: QueueConfig[];
  /** app only. */
  mode?: 'instant' | 'lowPower';
  /** Timings (ms); scaled down in tests and the simulator. */
  nseBudgetMs?: number;
  nseGraceMs?: number;
  /** Extra GETs per notification while the queue has more (default 3). */
  nseMaxExtraGets?: number;
  /** Drain deadline of the NSE's suspension after its grace period or a yield (default 1000). */
  nseSuspendDeadlineMs?: number;
  pingIntervalMs?: number;
  /** Instant mode reconnect: first backoff window (default 250 ms), attempts before the watchdog's GET fallback (3), fallback period (2000 ms). */
  rtBackoffBaseMs?: number;
  rtAttemptsBeforeFallback?: number;
  rtFallbackFetchMs?: number;
  pollIntervalMs?: number;
  syncMaxBatch?: number;
  /** Drain deadline when the app is told its background time expires (default 1000). */
  appExpiryDeadlineMs?: number;
  /** Store durability (default DEFAULT_STORE_SYNC, 'full'). */
  storeSync?: StoreSync;
  /** app only: the user's "background refresh" setting (default off; docs/processes.md "Background windows"). Changed at run time by a `settings` command. */
  backgroundRefresh?: boolean;
  /** app only: with a background task, suspend this long after leaving the front unless expiry or the front comes first (none by default; the Node device passes 20 000). */
  appSuspendAfterMs?: number;
  /** app only: the user's other devices, told when a conversation is read here (docs/notifications.md "Read on another device"). */
  linkedDevices?: LinkedDevice[];
}
