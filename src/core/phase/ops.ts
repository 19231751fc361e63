/**
 * Per-class operation bookkeeping for the PhaseController: in-flight counts
 * and FIFO queues of operations waiting for their blocked class, each with its
 * own timeout on the host clock. Counts live here, not in the phase machine,
 * because they change on every operation.
 */
import type { Clock, OpClass, TimerHandle } from '../host.js';
import { DRAIN_ORDER } from '../host.js';

interface Waiter {
  start: () => void;
  fail: (e: unknown) => void;
  timer: TimerHandle | null;
}

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && (typeof v === 'object' || typeof v === 'function') && typeof (v as { then?: unknown }).then === 'function';

export class OpTracker {
  private readonly counts = new Map<OpClass, number>(DRAIN_ORDER.map((c) => [c, 0]));
  private readonly queues = new Map<OpClass, Waiter[]>(DRAIN_ORDER.map((c) => [c, []]));

  /** `onIdle(cls)` runs whenever a class's in-flight count drops to zero. */
  constructor(
    private readonly clock: Clock,
    private readonly onIdle: (cls: OpClass) => void,
  ) {}

  inFlight(cls: OpClass): number {
    return this.counts.get(cls)!;
  }
  waiting(cls: OpClass): number {
    return this.queues.get(cls)!.length;
  }

  /** Run `fn` now, counted. Synchronous start; the count drops before the result is delivered. */
  exec<T>(cls: OpClass, fn: () => T | Promise<T>): Promise<T> {
    this.counts.set(cls, this.counts.get(cls)! + 1);
    let r: T | Promise<T>;
    try {
      r = fn();
    } catch (e) {
      this.done(cls);
      return Promise.reject(e);
    }
    if (!isThenable(r)) {
      this.done(cls);
      return Promise.resolve(r);
    }
    return Promise.resolve(r).then(
      (v) => (this.done(cls), v),
      (e: unknown) => {
        this.done(cls);
        throw e;
      },
    );
  }

  /** Park `fn` until `resume` starts it, or fail with `onTimeout()` after `timeoutMs` (Infinity: never). */
  wait<T>(cls: OpClass, fn: () => T | Promise<T>, timeoutMs: number, onTimeout: () => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const list = this.queues.get(cls)!;
      const w: Waiter = { start: () => resolve(this.exec(cls, fn)), fail: reject, timer: null };
      if (Number.isFinite(timeoutMs)) {
        w.timer = this.clock.setTimer(Math.max(0, timeoutMs), () => {
          w.timer = null;
          const i = list.indexOf(w);
          if (i < 0) return; // already started
          list.splice(i, 1);
          reject(onTimeout());
        });
      }
      list.push(w);
    });
  }

  /** Start waiters of `cls` in FIFO order while `isOpen()` holds (a started op may block it again). */
  resume(cls: OpClass, isOpen: () => boolean): void {
    const list = this.queues.get(cls)!;
    for (let w = list[0]; w && isOpen(); w = list[0]) {
      list.shift();
      if (w.timer !== null) this.clock.clearTimer(w.timer);
      w.timer = null;
      w.start();
    }
  }

  /** Fail every waiter (controller stopped). */
  failAll(err: (cls: OpClass) => unknown): void {
    for (const cls of DRAIN_ORDER) {
      const list = this.queues.get(cls)!.splice(0);
      for (const w of list) {
        if (w.timer !== null) this.clock.clearTimer(w.timer);
        w.fail(err(cls));
      }
    }
  }

  private done(cls: OpClass): void {
    const n = this.counts.get(cls)! - 1;
    this.counts.set(cls, n);
    if (n === 0) this.onIdle(cls);
  }
}
