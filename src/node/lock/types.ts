import type { Host, Lock, LockGrant } from '../../core/host.js';

/**
 * The cross-process lock around every shared-store write transaction.
 * Two backends (flock, lease) behind one interface; see docs/lock.md.
 */
export interface CrossProcessLock extends Lock {
  /** Waits (never blocks the event loop) up to `timeoutMs`, then NsekitError LOCK_TIMEOUT. */
  acquire(opts?: { timeoutMs?: number }): Promise<LockGrant>;
  /** `wrote: true` bumps the shared generation before the lock is let go. */
  release(opts?: { wrote?: boolean }): Promise<void>;
  readonly held: boolean;
  readonly backend: 'flock' | 'lease';
  /** Current shared generation, read from the shared state (no lock needed). */
  generation(): number;
  /** acquire → fn → release; `wrote` defaults to true (also when fn throws). */
  withLock<T>(fn: (g: LockGrant) => T | Promise<T>, opts?: { timeoutMs?: number; wrote?: boolean }): Promise<T>;
  /** Priority: ask whoever holds the lock to yield (the foreground app wins). */
  requestYield(): void;
  /** Withdraw this process's own request (it left the foreground before it needed the lock). */
  withdrawYield(): void;
  /** Another process's yield request is active now (held or not). */
  yieldPending(): boolean;
  /** Called in the holder when another process asked it to yield. Returns an unsubscribe. */
  onYieldRequested(fn: () => void): () => void;
  /** Releases if held (wrote: true), closes fds, watchers and timers. Idempotent. */
  close(): Promise<void>;
}

export type LockHost = Pick<Host, 'clock' | 'log' | 'failpoints'>;

export interface CommonLockOptions {
  host?: LockHost;
  /** Default acquire timeout (ms) when `acquire()` is called without one. Default 10 000. */
  defaultTimeoutMs?: number;
  /** How often the holder re-reads the yield file while held (fallback for fs.watch). Default 100 ms. */
  yieldPollMs?: number;
  /** A yield request older than this is ignored (requester gave up or died). Default 10 000 ms. */
  yieldTtlMs?: number;
}

export interface FlockOptions extends CommonLockOptions {
  /** First wait between non-blocking attempts (ms). Sub-millisecond waits yield via setImmediate. Default 0.1. */
  pollMinMs?: number;
  /** Longest wait between attempts (ms). Default 5. */
  pollMaxMs?: number;
  /** A waiter that has slept this long (ms) is let in first by the next acquirer (bounded unfairness). Default 50. */
  fairMs?: number;
}

export interface LeaseOptions extends CommonLockOptions {
  /** A lease not renewed for this long is stale and may be taken over. Default 2000 (proper-lockfile's minimum). */
  leaseMs?: number;
  /** Renewal period (ms). Default leaseMs/2; proper-lockfile clamps to [1000, leaseMs/2]. */
  renewMs?: number;
  /** Wait between attempts (ms). Default 1. */
  retryMs?: number;
}
