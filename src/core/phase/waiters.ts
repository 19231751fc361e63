/**
 * FIFO queues of operations waiting for their blocked class to reopen, each
 * with its own timeout on the host clock. Owned by the PhaseController.
 */
import type { Clock, OpClass, TimerHandle } from '../host.js';
import { DRAIN_ORDER } from '../host.js';

export interface Waiter {
  /** Start the operation (the class is open again). */
  start: () => void;
  /** Give up (timeout or stop) with this error. */
  fail: (e: unknown) => void;
  timer: TimerHandle | null;
}

export class WaitQueues {
  private readonly q = new Map<OpClass, Waiter[]>(DRAIN_ORDER.map((c) => [c, []]));

  constructor(private readonly clock: Clock) {}

  size(cls: OpClass): number {
    return this.q.get(cls)!.length;
  }

  /** Queue `w`; after `timeoutMs` (unless Infinity) it is removed and `onTimeout` decides the error. */
  push(cls: OpClass, w: Omit<Waiter, 'timer'>, timeoutMs: number, onTimeout: () => unknown): void {
    const waiter: Waiter = { ...w, timer: null };
    if (Number.isFinite(timeoutMs)) {
      waiter.timer = this.clock.setTimer(Math.max(0, timeoutMs), () => {
        waiter.timer = null;
        const list = this.q.get(cls)!;
        const i = list.indexOf(waiter);
        if (i < 0) return; // already started
        list.splice(i, 1);
        waiter.fail(onTimeout());
      });
    }
    this.q.get(cls)!.push(waiter);
  }

  /** Take the oldest waiter of `cls` (its timer cancelled), or undefined. */
  shift(cls: OpClass): Waiter | undefined {
    const w = this.q.get(cls)!.shift();
    if (w && w.timer !== null) {
      this.clock.clearTimer(w.timer);
      w.timer = null;
    }
    return w;
  }

  /** Fail every waiter of every class (controller stopped). */
  failAll(err: (cls: OpClass) => unknown): void {
    for (const cls of DRAIN_ORDER) {
      for (let w = this.shift(cls); w; w = this.shift(cls)) w.fail(err(cls));
    }
  }
}
