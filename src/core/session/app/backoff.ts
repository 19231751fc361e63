import type { Clock, Rng } from '../../host.js';

/**
 * Exponential backoff with full jitter: attempt n waits a uniform random time
 * in [base·2^n / 2, base·2^n], capped. Randomness comes from the host Rng so a
 * simulator run is reproducible from its seed.
 */
export class Backoff {
  private attempt = 0;
  constructor(
    private readonly rng: Rng,
    private readonly baseMs = 250,
    private readonly maxMs = 10_000,
  ) {}

  /** The next delay (ms); each call doubles the window until maxMs. */
  next(): number {
    const ceil = Math.min(this.maxMs, this.baseMs * 2 ** this.attempt);
    this.attempt = Math.min(this.attempt + 1, 30);
    const b = this.rng.randomBytes(2);
    const u = ((b[0]! << 8) | b[1]!) / 0xffff;
    return Math.round(ceil / 2 + (u * ceil) / 2);
  }

  get attempts(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Resolves after `ms` on the host clock (virtual in the simulator, where a frozen process waits for its thaw). */
export function sleep(clock: Clock, ms: number): Promise<void> {
  return new Promise<void>((resolve) => void clock.setTimer(ms, resolve));
}
