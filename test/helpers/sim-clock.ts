import type { Clock, TimerHandle } from '../../src/core/host.js';

/**
 * A simulated clock for unit tests: time moves only when the test advances it,
 * and due timers fire in deadline order (ties in creation order).
 */
export class SimClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers = new Map<number, { at: number; seq: number; fn: () => void }>();

  now(): number {
    return this.t;
  }
  setTimer(ms: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + Math.max(0, ms), seq: id, fn });
    return { id };
  }
  clearTimer(h: TimerHandle): void {
    this.timers.delete((h as { id: number }).id);
  }
  pending(): number {
    return this.timers.size;
  }
  /** Advance time by `ms`, firing due timers and letting promise callbacks run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await flush();
      let next: [number, { at: number; seq: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (!next || e[1].at < next[1].at || (e[1].at === next[1].at && e[1].seq < next[1].seq))) next = e;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await flush();
  }
}

/** Let queued microtasks (promise continuations) run. */
export async function flush(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
