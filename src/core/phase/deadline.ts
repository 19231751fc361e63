/** The suspend deadline: one host-clock timer that a later, shorter deadline can tighten but never extend. */
import type { Clock, TimerHandle } from '../host.js';

export class Deadline {
  private current: { at: number; timer: TimerHandle } | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly onFire: () => void,
  ) {}

  /** Fire after `ms` (now, synchronously, if `ms <= 0`) unless an earlier deadline already stands. */
  set(ms: number): void {
    if (ms <= 0) {
      this.clear();
      this.onFire();
      return;
    }
    const at = this.clock.now() + ms;
    if (this.current && this.current.at <= at) return;
    this.clear();
    this.current = {
      at,
      timer: this.clock.setTimer(ms, () => {
        this.current = null;
        this.onFire();
      }),
    };
  }

  clear(): void {
    if (this.current) this.clock.clearTimer(this.current.timer);
    this.current = null;
  }
}
