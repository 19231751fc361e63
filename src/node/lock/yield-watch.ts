import type { LockHost } from './types.js';
import { YieldChannel } from './yield.js';

/**
 * The holder's side of yield requests: callbacks, an fs.watch on the yield file
 * (lifetime of the subscription) and a cheap poll while the lock is held (the
 * fallback when watch events are lost). Each request is delivered at most once
 * per hold, only while held, never synchronously inside acquire().
 */
export class YieldWatch {
  private readonly channel: YieldChannel;
  private readonly fns = new Set<() => void>();
  private readonly delivered = new Set<string>();
  private timer: unknown;
  private held = false;
  private closed = false;

  constructor(
    lockPath: string,
    private readonly host: LockHost,
    private readonly backend: () => string,
    private readonly pollMs: number,
    ttlMs: number,
  ) {
    this.channel = new YieldChannel(`${lockPath}.yield`, host.log, ttlMs);
  }

  request(): void {
    this.channel.request();
  }

  /** Another process's request is active now (read from the shared yield file). */
  pending(): boolean {
    return this.channel.pending() !== undefined;
  }

  /** Withdraw our own request, if still active (the requester no longer needs the lock first). */
  withdraw(): void {
    this.channel.satisfied();
  }

  on(fn: () => void): () => void {
    this.fns.add(fn);
    if (!this.closed) this.channel.watch(() => this.check());
    if (this.held) this.startPoll();
    return () => {
      this.fns.delete(fn);
      if (this.fns.size === 0) {
        this.stopPoll();
        this.channel.unwatch();
      }
    };
  }

  acquired(): void {
    this.held = true;
    this.delivered.clear();
    this.channel.satisfied(); // our own request, if any, is fulfilled
    if (this.fns.size) this.startPoll();
  }

  released(): void {
    this.held = false;
    this.stopPoll();
  }

  close(): void {
    this.closed = true;
    this.released();
    this.channel.unwatch();
    this.fns.clear();
  }

  private check(): void {
    if (!this.held || this.fns.size === 0) return;
    const r = this.channel.pending();
    if (!r) return;
    const key = `${r.token}:${r.seq}`;
    if (this.delivered.has(key)) return;
    this.delivered.add(key);
    this.host.log.log('info', 'lock', 'yield requested', { backend: this.backend(), byPid: r.pid });
    for (const fn of [...this.fns]) {
      try {
        fn();
      } catch (e) {
        this.host.log.log('error', 'lock', 'yield callback threw', { err: String(e) });
      }
    }
  }

  private startPoll(): void {
    if (this.timer !== undefined) return;
    const tick = (): void => {
      this.timer = undefined;
      if (!this.held || this.fns.size === 0) return;
      this.check();
      if (this.held) this.timer = unref(this.host.clock.setTimer(this.pollMs, tick));
    };
    // First check on a later turn, so the caller of acquire() runs before any callback.
    this.timer = unref(this.host.clock.setTimer(0, tick));
  }

  private stopPoll(): void {
    if (this.timer === undefined) return;
    this.host.clock.clearTimer(this.timer as never);
    this.timer = undefined;
  }
}

function unref<T>(h: T): T {
  (h as { unref?: () => void } | undefined)?.unref?.();
  return h;
}
