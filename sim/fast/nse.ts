/**
 * The NSE's behaviour in the fast mode, following src/nse/nse.ts: per push,
 * GET each notified queue through the per-queue coordinator (queues in
 * parallel, one queue serialized), store or inbox, ACK after the durable
 * write; its own budget timer delivers best-attempt content and suspends;
 * a grace period after the last push, then background + suspend (store
 * closed, lock released) before iOS freezes it; the app's activation makes
 * it yield (drain and release). As in the real NSE, a yield is sticky: while
 * the app is in front (`appActive`) no GET starts and pushes are handed over,
 * until the device says the app left (`setAppActive(false)`).
 */
import { isNsekitError } from '../../src/core/errors.js';
import type { TimerHandle } from '../../src/core/host.js';
import { fetchAndProcess } from '../../src/core/inbound/index.js';
import type { SimProc } from './proc.js';

export interface NseTimings {
  budgetMs: number;
  graceMs: number;
  /** Deadline of the drain after the grace / on yield. */
  suspendDeadlineMs: number;
}

interface Job {
  queueIds: string[];
  done: boolean;
}

export class SimNse {
  private jobs = new Set<Job>();
  private graceTimer: TimerHandle | null = null;
  private budgetTimer: TimerHandle | null = null;
  /** The app is in front: set by a yield, cleared only by setAppActive(false) (src/nse/nse.ts). */
  private appActive = false;
  private suspending: Promise<void> | null = null;

  constructor(
    readonly p: SimProc,
    private readonly t: NseTimings,
    /** Tells the device the NSE is suspended (iOS then freezes it). */
    private readonly onSuspended: () => void,
  ) {}

  async onPush(queueIds: string[]): Promise<void> {
    const { p } = this;
    if (this.appActive) return this.handOver(queueIds);
    this.clearGrace();
    if (this.suspending) await this.suspending;
    // A yield may have come in while we waited: it wins, nothing was fetched.
    if (!this.appActive && p.phase.phase !== 'active') await p.phase.activate();
    if (this.appActive) return this.handOver(queueIds);
    if (this.budgetTimer === null) this.budgetTimer = p.ctx.clock.setTimer(this.t.budgetMs, () => this.expire());
    const job: Job = { queueIds, done: false };
    this.jobs.add(job);
    try {
      const results = await Promise.allSettled(queueIds.map((q) => this.fetchQueue(q)));
      for (const r of results) if (r.status === 'rejected' && !this.appActive) this.error('nse fetch', r.reason);
    } finally {
      job.done = true;
      this.jobs.delete(job);
    }
    if (this.jobs.size === 0 && !this.appActive) this.armGrace();
  }

  /** A push while the app is in front: no GET (the app's wake / SUB fetches it). */
  private handOver(queueIds: string[]): void {
    this.p.ctx.record('info', 'push.handed-over', { queueIds });
  }

  /** The device's view of the app (src/nse/nse.ts setAppActive): in front = a yield; gone = GETs allowed again. */
  async setAppActive(active: boolean): Promise<void> {
    if (active) {
      if (!this.appActive) await this.yieldToApp();
      return;
    }
    if (!this.appActive) return;
    this.appActive = false;
    this.p.ctx.record('info', 'app-left', {});
  }

  private async fetchQueue(queueId: string): Promise<void> {
    // Yielded meanwhile: do not start a GET (one already past its gate finishes in the drain).
    if (this.appActive) return;
    try {
      await fetchAndProcess(this.p.inboundDeps(), this.p.queues, queueId, { maxExtraGets: 3 });
    } catch (e) {
      // The app fetched and ACKed the same message first: it is durable (the store deduped).
      if (!isNsekitError(e, 'PROTO_NO_MSG')) throw e;
    }
  }

  /** "Time will expire" (own budget timer or the OS callback): best-attempt content, then suspend at once. */
  expire(): void {
    this.budgetTimer = null;
    for (const job of this.jobs) {
      if (job.done) continue;
      job.done = true;
      this.p.ctx.record('info', 'notify.best-attempt', { queueIds: job.queueIds });
    }
    void this.suspend(0);
  }

  private armGrace(): void {
    this.clearGrace();
    this.graceTimer = this.p.ctx.clock.setTimer(this.t.graceMs, () => {
      this.graceTimer = null;
      if (this.jobs.size === 0) void this.suspend(this.t.suspendDeadlineMs);
    });
  }
  private clearGrace(): void {
    if (this.graceTimer !== null) this.p.ctx.clock.clearTimer(this.graceTimer);
    this.graceTimer = null;
  }

  suspend(deadlineMs: number): Promise<void> {
    if (this.suspending) return this.suspending;
    const { p } = this;
    this.clearGrace();
    if (this.budgetTimer !== null) p.ctx.clock.clearTimer(this.budgetTimer);
    this.budgetTimer = null;
    this.suspending = (async () => {
      try {
        if (p.phase.phase === 'active') p.phase.background();
        await p.phase.suspend(deadlineMs);
        this.onSuspended();
      } catch (e) {
        this.error('nse suspend', e);
      } finally {
        this.suspending = null;
      }
    })();
    return this.suspending;
  }

  /** The app became active: stop starting work, drain, release. */
  async yieldToApp(): Promise<void> {
    const again = this.appActive && this.suspending;
    this.appActive = true; // synchronously, before any await (as the real NSE)
    if (again) return this.suspending!;
    this.p.ctx.record('info', 'yielding', { inFlight: this.jobs.size });
    await this.suspend(this.t.suspendDeadlineMs);
    this.p.ctx.record('info', 'yielded', { lockHeld: this.p.lock.held });
  }

  private error(where: string, e: unknown): void {
    const code = isNsekitError(e) ? e.code : 'INTERNAL';
    this.p.ctx.record('info', 'error', { where, code, message: e instanceof Error ? e.message : String(e) });
  }
}
