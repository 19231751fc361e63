import { toBase64 } from '../core/bytes.js';
import type { Clock, Log, TimerHandle } from '../core/host.js';
import { truncateSecret } from '../node/host.js';
import type { RelayDb } from './db.js';
import type { PushSender } from './push-client.js';

export interface NotifyOptions {
  /** Window after the first pending notification for a token before the push goes out. */
  coalesceMs: number;
  /** Most notification ids in one push. */
  bundleMax: number;
  /** Pending notifications older than this are dropped undelivered. */
  ttlMs: number;
  /** Cap of the retry backoff after a failed push (doubles from coalesceMs). */
  retryMaxMs: number;
}

export const DEFAULT_NOTIFY: NotifyOptions = { coalesceMs: 2000, bundleMax: 6, ttlMs: 24 * 3600_000, retryMaxMs: 60_000 };

export interface NotifyStats {
  pushes: number;
  nidsPushed: number;
  expired: number;
  invalidTokens: number;
  retries: number;
}

/**
 * The notification pipeline. Pending notifications live in the relay DB
 * (written in the same transaction as their message), so they survive a
 * restart. Per token: the first pending notification opens a coalescing
 * window; when it closes, everything pending goes out in bundles of at most
 * `bundleMax`. A bundle is deleted only once the gateway accepted it
 * (at-least-once: a crash between accept and delete can repeat a push; the
 * device dedupes by msgId).
 */
export class NotificationDispatcher {
  private readonly timers = new Map<string, TimerHandle>();
  private readonly flushing = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly failures = new Map<string, number>();
  private closed = false;
  readonly stats: NotifyStats = { pushes: 0, nidsPushed: 0, expired: 0, invalidTokens: 0, retries: 0 };

  constructor(
    private readonly db: RelayDb,
    private readonly clock: Clock,
    private readonly log: Log,
    private readonly sender: PushSender | null,
    private readonly opts: NotifyOptions,
  ) {}

  /** Pick up notifications left pending by a previous run. */
  start(): void {
    for (const t of this.db.pendingTokens()) this.schedule(t);
  }

  /** A notification for `token` was stored: make sure a push is on its way. */
  schedule(token: string, delayMs = this.opts.coalesceMs): void {
    if (this.closed || !this.sender) return;
    if (this.flushing.has(token)) {
      this.again.add(token);
      return;
    }
    if (this.timers.has(token)) return;
    this.timers.set(
      token,
      this.clock.setTimer(delayMs, () => {
        this.timers.delete(token);
        const p = this.flush(token).then(
          (retryDelay) => this.afterFlush(token, retryDelay),
          (e: unknown) => {
            this.log.log('error', 'push', 'flush failed', { token: truncateSecret(token), error: String(e) });
            this.afterFlush(token, this.nextRetryDelay(token));
          },
        );
        this.flushing.set(token, p);
      }),
    );
  }

  /** Sends everything pending for `token`; returns a retry delay if the gateway refused. */
  private async flush(token: string): Promise<number | null> {
    const sender = this.sender!;
    // Bounded: each round deletes at least one row or returns.
    for (;;) {
      if (this.closed) return null;
      const { rows, expired } = this.db.takePending(token, this.opts.bundleMax, this.clock.now() - this.opts.ttlMs);
      if (expired) {
        this.stats.expired += expired;
        this.log.log('warn', 'push', 'expired undelivered notifications', { count: expired });
      }
      if (rows.length === 0) return null;
      const nids = rows.map((r) => ({ notifierId: r.notifierId, sealed: toBase64(r.sealed) }));
      const result = await sender.push(token, nids);
      if (this.closed) return null; // the DB may be closed: rows stay pending for the next run
      if (result === 'invalid') {
        const dropped = this.db.dropPendingForToken(token);
        this.db.clearToken(token);
        this.stats.invalidTokens++;
        this.log.log('warn', 'push', 'token invalid, dropped', { token: truncateSecret(token), dropped });
        return null;
      }
      if (result === 'retry') return this.nextRetryDelay(token);
      this.db.deletePending(rows.map((r) => r.seq));
      this.failures.delete(token);
      this.stats.pushes++;
      this.stats.nidsPushed += rows.length;
      this.log.log('info', 'push', 'push accepted', { token: truncateSecret(token), nids: rows.length });
    }
  }

  private nextRetryDelay(token: string): number {
    const n = (this.failures.get(token) ?? 0) + 1;
    this.failures.set(token, n);
    this.stats.retries++;
    const delay = Math.min(this.opts.retryMaxMs, this.opts.coalesceMs * 2 ** Math.min(n, 20));
    this.log.log('warn', 'push', 'gateway refused, will retry', { token: truncateSecret(token), attempt: n, delayMs: delay });
    return delay;
  }

  private afterFlush(token: string, retryDelay: number | null): void {
    this.flushing.delete(token);
    if (retryDelay !== null) {
      this.again.delete(token);
      this.schedule(token, retryDelay);
    } else if (this.again.delete(token)) this.schedule(token);
  }

  close(): void {
    this.closed = true;
    for (const h of this.timers.values()) this.clock.clearTimer(h);
    this.timers.clear();
    this.sender?.close?.();
  }

  /** Resolves when no flush is running (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.flushing.size > 0) await Promise.all([...this.flushing.values()]);
  }
}
