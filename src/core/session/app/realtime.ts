import { NsekitError } from '../../errors.js';
import type { TimerHandle } from '../../host.js';
import { fetchAndProcess } from '../../inbound/index.js';
import type { SessionConfig } from '../config.js';
import type { SessionRuntime } from '../runtime.js';
import { Backoff } from './backoff.js';

export interface RealtimeOptions {
  /** Keep-alive ping period while subscribed (default 5000 ms). */
  pingIntervalMs?: number;
  /** A ping without PONG in this long marks the socket degraded (default 3000 ms). */
  pingTimeoutMs?: number;
  /** Reconnect attempts before the watchdog falls back to periodic GET-fetch (default 3). */
  attemptsBeforeFallback?: number;
  /** Fallback fetch period while degraded (default 2000 ms). */
  fallbackFetchMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/** The realtime options a session's config sets (the rest keep their defaults). */
export function realtimeOptionsOf(cfg: SessionConfig): RealtimeOptions {
  return {
    ...(cfg.pingIntervalMs !== undefined ? { pingIntervalMs: cfg.pingIntervalMs } : {}),
    ...(cfg.rtBackoffBaseMs !== undefined ? { backoffBaseMs: cfg.rtBackoffBaseMs } : {}),
    ...(cfg.rtAttemptsBeforeFallback !== undefined ? { attemptsBeforeFallback: cfg.rtAttemptsBeforeFallback } : {}),
    ...(cfg.rtFallbackFetchMs !== undefined ? { fallbackFetchMs: cfg.rtFallbackFetchMs } : {}),
  };
}

type RtState = 'idle' | 'subscribed' | 'reconnecting' | 'degraded' | 'closed';

/**
 * Instant mode: one SUB per queue over the app's WebSocket, keep-alive pings,
 * reconnect with exponential backoff + jitter (host Rng), and a watchdog that
 * falls back to periodic GET-fetch while the socket stays degraded. A SUB
 * delivery is stored, then ACKed (the relay sends the next only after ACK).
 */
export class Realtime {
  state: RtState = 'idle';
  private pingTimer: TimerHandle | null = null;
  private retryTimer: TimerHandle | null = null;
  private fallbackTimer: TimerHandle | null = null;
  private readonly backoff: Backoff;
  private readonly o: Required<RealtimeOptions>;
  /** Set by the app: runs the wake sequence after a reconnect ('online'). */
  onOnline: () => void = () => {};
  private wanted = false;
  /** The watchdog's fetch in progress (a SUB must not start while it holds a GET slot). */
  private fallbackInFlight: Promise<void> | null = null;

  constructor(private readonly rt: SessionRuntime, opts: RealtimeOptions = {}) {
    this.o = {
      pingIntervalMs: opts.pingIntervalMs ?? 5_000,
      pingTimeoutMs: opts.pingTimeoutMs ?? 3_000,
      attemptsBeforeFallback: opts.attemptsBeforeFallback ?? 3,
      fallbackFetchMs: opts.fallbackFetchMs ?? 2_000,
      backoffBaseMs: opts.backoffBaseMs ?? 250,
      backoffMaxMs: opts.backoffMaxMs ?? 10_000,
    };
    this.backoff = new Backoff(rt.host.rng, this.o.backoffBaseMs, this.o.backoffMaxMs);
    rt.transport.onClose(() => this.onSocketLost('close'));
    rt.transport.onEnd((queueId: string) => {
      // Another subscriber took the queue (e.g. a second device session): we no longer consume it.
      rt.log('warn', 'rt', 'subscription ended by relay', { queueId });
      void rt.queues.unsubscribe(queueId).catch(() => {});
    });
  }

  private setState(s: RtState, fields: Record<string, unknown> = {}): void {
    if (this.state === s && !Object.keys(fields).length) return;
    this.state = s;
    this.rt.emit('rt', { state: s, ...fields });
  }

  /** SUB every queue that is not subscribed yet (the rebuild step of the wake sequence). */
  async subscribeAll(): Promise<void> {
    const { rt } = this;
    await this.quiesceFallback();
    this.wanted = true;
    for (const queueId of rt.queueCfg.keys()) {
      if (rt.queues.isSubscribed(queueId)) continue;
      await rt.queues.subscribe(queueId, (m) => {
        void rt.handleDelivered(m, 'sub').catch((e) => rt.errorEvent('sub delivery', e));
      });
    }
    this.backoff.reset();
    this.stopFallback();
    this.setState('subscribed', { queues: rt.queueCfg.size });
    this.armPing();
  }

  /** Drop every SUB (locally always; at the relay if the socket is up). */
  async unsubscribeAll(): Promise<void> {
    const { rt } = this;
    this.wanted = false;
    this.clearTimers();
    await Promise.all(
      [...rt.queueCfg.keys()].filter((q) => rt.queues.isSubscribed(q)).map((q) => rt.queues.unsubscribe(q).catch(() => {})),
    );
    this.setState('idle');
  }

  private armPing(): void {
    if (this.pingTimer !== null) this.rt.host.clock.clearTimer(this.pingTimer);
    this.pingTimer = this.rt.host.clock.setTimer(this.o.pingIntervalMs, () => void this.ping());
  }

  private async ping(): Promise<void> {
    this.pingTimer = null;
    if (!this.wanted || this.rt.phase.phase !== 'active') return;
    try {
      let t: TimerHandle | null = null;
      const timeout = new Promise<never>((_, rej) => (t = this.rt.host.clock.setTimer(this.o.pingTimeoutMs, () => rej(new NsekitError('PROTO_TIMEOUT', `no PONG in ${this.o.pingTimeoutMs} ms`)))));
      try {
        await Promise.race([this.rt.transport.ping(), timeout]);
      } finally {
        if (t !== null) this.rt.host.clock.clearTimer(t);
      }
      this.armPing();
    } catch {
      this.onSocketLost('ping timeout');
    }
  }

  private onSocketLost(why: string): void {
    const { rt } = this;
    if (!this.wanted || this.retryTimer !== null) return;
    // Local SUB marks are stale on a dead socket; the relay forgets them too.
    for (const q of rt.queueCfg.keys()) if (rt.queues.isSubscribed(q)) void rt.queues.unsubscribe(q).catch(() => {});
    this.scheduleReconnect(why);
  }

  private scheduleReconnect(why: string): void {
    const ms = this.backoff.next();
    const degraded = this.backoff.attempts > this.o.attemptsBeforeFallback;
    this.rt.log('warn', 'rt', degraded ? 'degraded' : 'reconnecting', { backoff: ms, why, attempt: this.backoff.attempts });
    this.setState(degraded ? 'degraded' : 'reconnecting', { backoffMs: ms });
    if (degraded) this.startFallback();
    this.retryTimer = this.rt.host.clock.setTimer(ms, () => void this.reconnect());
  }

  private async reconnect(): Promise<void> {
    this.retryTimer = null;
    if (!this.wanted) return;
    try {
      await this.rt.phase.run('receiveNetwork', () => this.rt.ensureConnected());
      await this.quiesceFallback();
      this.rt.log('info', 'rt', 'reconnected', { attempts: this.backoff.attempts });
      this.onOnline(); // the wake sequence re-subscribes and fetches what was missed
    } catch (e) {
      this.scheduleReconnect(`connect failed: ${String(e)}`);
    }
  }

  /** Something (e.g. a failed wake) left the app without live delivery: try again after a backoff. */
  retry(why: string): void {
    this.wanted = true;
    if (this.retryTimer === null) this.scheduleReconnect(why);
  }

  /** Stop the watchdog and wait for a fetch it has in flight. */
  private async quiesceFallback(): Promise<void> {
    this.stopFallback();
    if (this.fallbackInFlight) await this.fallbackInFlight.catch(() => {});
  }

  /** Watchdog fallback: periodic GET-fetch while SUB is unavailable. */
  private startFallback(): void {
    if (this.fallbackTimer !== null) return;
    const tick = async () => {
      this.fallbackTimer = null;
      if (this.fallbackInFlight) return;
      if (!this.wanted || this.state !== 'degraded') return;
      const deps = this.rt.inboundDeps('fallback');
      await this.rt.ensureConnected().catch(() => {});
      for (const queueId of this.rt.queueCfg.keys()) {
        if (!this.wanted || this.state !== 'degraded') break;
        if (this.rt.queues.isSubscribed(queueId)) continue;
        try {
          await fetchAndProcess(deps, this.rt.queues, queueId, { maxExtraGets: 9 });
        } catch {
          break; // socket still down; next tick
        }
      }
      if (this.state === 'degraded' && this.wanted) this.fallbackTimer = this.rt.host.clock.setTimer(this.o.fallbackFetchMs, run);
    };
    const run = () => {
      const p = tick().finally(() => {
        if (this.fallbackInFlight === p) this.fallbackInFlight = null;
      });
      this.fallbackInFlight = p;
    };
    this.fallbackTimer = this.rt.host.clock.setTimer(this.o.fallbackFetchMs, run);
  }

  private stopFallback(): void {
    if (this.fallbackTimer !== null) this.rt.host.clock.clearTimer(this.fallbackTimer);
    this.fallbackTimer = null;
  }

  private clearTimers(): void {
    for (const t of [this.pingTimer, this.retryTimer]) if (t !== null) this.rt.host.clock.clearTimer(t);
    this.pingTimer = this.retryTimer = null;
    this.stopFallback();
  }

  close(): void {
    this.wanted = false;
    this.clearTimers();
    this.setState('closed');
  }
}
