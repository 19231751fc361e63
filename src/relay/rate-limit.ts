import type { Clock } from '../core/host.js';

/** Per-connection token bucket: `burst` frames at once, refilled at `perSecond`. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly clock: Clock,
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
    this.last = clock.now();
  }

  take(): boolean {
    const now = this.clock.now();
    // Clamp: a clock that jumps backwards must not mint tokens or go negative.
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.perSecond) / 1000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Counts refusals in a sliding window: `record()` is true once `limit` refusals
 * fell within `windowMs` (clock time). Unlike a count of refusals in a row, a
 * token that refills between refusals does not reset it, so a client that
 * keeps sending faster than the refill rate is caught. Memory: `limit` numbers.
 */
export class RefusalWindow {
  private readonly times: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(
    private readonly clock: Clock,
    private readonly limit: number,
    private readonly windowMs: number,
  ) {
    this.times = new Float64Array(Math.max(1, limit));
  }

  /** Records one refusal now; true when this is the `limit`-th within the window. */
  record(): boolean {
    const now = this.clock.now();
    this.times[this.next] = now;
    this.next = (this.next + 1) % this.times.length;
    if (this.filled < this.times.length) this.filled++;
    if (this.filled < this.times.length) return false;
    // The ring is full: `next` now points at the oldest of the last `limit` refusals.
    return now - this.times[this.next]! < this.windowMs;
  }
}
