import { isNsekitError } from '../../errors.js';
import type { TimerHandle } from '../../host.js';
import { fetchAndProcess, GENERIC_TITLE, type InboundOutcome } from '../../inbound/index.js';
import { threadIdOf } from '../../notification/index.js';
import type { LifecycleMsg, PushMsg } from '../commands.js';
import type { SessionRuntime } from '../runtime.js';
import { pushRefs, type Job } from './job.js';

/** The NSE retries a write that met LOCK_TIMEOUT while its push has time: its budget ends the retries, this only bounds them below the GET slot's 30 s hold timeout. */
const NSE_LOCK_RETRY = { attempts: 10, windowMs: 18_000 } as const;

export interface NseOptions {
  /** Time budget per push session before "time will expire" (default 30 000 ms). */
  budgetMs?: number;
  /** Idle time after the last push before background + suspend (default 2 000 ms). */
  graceMs?: number;
  /** Extra GETs per notification, each only after a message without the notification flag (default 3). */
  maxExtraGets?: number;
  /** Drain deadline of a suspension after the grace period or a yield (default 1000 ms). */
  suspendDeadlineMs?: number;
  /**
   * Called as the budget expires (own timer or `expiring`), before the best-attempt content goes
   * out, with the pushes whose content that finalizes (a host answering one content per push).
   */
  onExpire?: (pushIds: string[]) => void;
}

/**
 * The Notification Service Extension session (docs/processes.md "The NSE"). For each push: open the sealed
 * notification ids, GET each queue through the per-queue coordinator (so two
 * notifications for one queue never see the same message), store (or inbox
 * when locked), ACK after the durable write, show content for user messages.
 * Its own budget timer delivers best-attempt content at once (iOS's expiry
 * callback is unreliable); a grace period after the last push, then
 * background + suspend (store closed, lock released) before iOS freezes us.
 */
export class NseService {
  private readonly budgetMs: number;
  private readonly graceMs: number;
  private readonly maxExtraGets: number;
  private readonly suspendDeadlineMs: number;
  private readonly onExpire: NseOptions['onExpire'];
  private readonly jobs = new Set<Job>();
  private graceTimer: TimerHandle | null = null;
  private budgetTimer: TimerHandle | null = null;
  /**
   * The app is in front: set by a yield (IPC or lock channel) or the device's
   * `app-state`, cleared only by `app-state active:false` (the app left the
   * foreground) — a fresh launch starts false. While set, no GET starts.
   */
  private appActive = false;
  private suspending: Promise<void> | null = null;
  /** The newest numbered yield request received from the device (a `yield` or `app-state` command's id). */
  private lastYieldId = 0;
  /** When our time last expired (iOS's callback or our own budget): a push within the grace after it is not fetched. */
  private expiredAt: number | null = null;

  constructor(private readonly rt: SessionRuntime, opts: NseOptions = {}) {
    this.budgetMs = opts.budgetMs ?? 30_000;
    this.graceMs = opts.graceMs ?? 2_000;
    this.maxExtraGets = opts.maxExtraGets ?? 3;
    this.suspendDeadlineMs = opts.suspendDeadlineMs ?? 1_000;
    this.onExpire = opts.onExpire;
    // The app asked the lock holder to yield (flock side channel): same as an IPC yield.
    rt.lock.onYieldRequested(() => void this.yieldToApp('lock'));
  }

  /** Commands are applied in order (a push after `unlock` sees the key); pushes then run concurrently. */
  private chain: Promise<unknown> = Promise.resolve();
  private serial(fn: () => Promise<unknown>): Promise<void> {
    const p: Promise<void> = this.chain.then(fn).then(
      () => {},
      (e: unknown) => this.rt.errorEvent('nse', e),
    );
    this.chain = p;
    return p;
  }

  /** A push handed to the extension. Its start is ordered with lifecycle commands; the coordinator serializes per queue. */
  push(p: PushMsg): Promise<void> {
    let started!: Promise<void>;
    const queued = this.serial(async () => {
      started = this.onPush(p).catch((e) => this.rt.errorEvent('nse push', e, { pushId: p.pushId }));
    });
    return queued.then(() => started);
  }

  /** Lifecycle as the extension sees it: the key comes and goes; iOS may ask it to suspend. */
  lifecycle(m: LifecycleMsg): Promise<void> {
    const { rt } = this;
    if (m.event === 'unlock' && m.masterKey) return this.serial(() => rt.unlock(m.masterKey!));
    if (m.event === 'lock') return this.serial(async () => rt.lockDevice());
    // iOS's "time will expire": best-attempt content for what is unfinished, then suspend at once.
    if (m.event === 'expiring') return this.serial(async () => this.expire());
    if (m.event === 'suspend') return this.serial(() => this.suspend(m.deadlineMs ?? 0));
    return Promise.resolve();
  }

  /**
   * Recorded on receipt: `yielded` names the newest request it answers, so a device waiting for
   * request n ignores a `yielded` emitted before n arrived (the app left and came back meanwhile,
   * the extension fetching again in between). Requests over the lock channel carry no id.
   */
  private noteYieldId(id: number | undefined): void {
    if (id !== undefined && id > this.lastYieldId) this.lastYieldId = id;
  }

  /**
   * The device's view of the app, applied on receipt (ordered with yields).
   * In front: the same as a yield. Gone to background: GETs are allowed again.
   */
  setAppActive(active: boolean, yieldId?: number): void {
    if (active) {
      this.noteYieldId(yieldId);
      if (!this.appActive) void this.yieldToApp('ipc');
      return;
    }
    if (!this.appActive) return;
    this.appActive = false;
    this.rt.log('info', 'nse', 'app left the foreground: fetching again');
  }

  async onPush(p: PushMsg): Promise<void> {
    const { rt } = this;
    const refs = pushRefs(this.rt, p.items);
    // Reported first thing: the device does not freeze an NSE that has unread pushes.
    rt.emit('push-start', { pushId: p.pushId, refs: refs.length, inFlight: this.jobs.size + 1 });
    rt.log('info', 'nse', 'push', { pushId: p.pushId, refs: refs.length });
    if (this.appActive) return this.handOver(p.pushId, refs.length);
    const job: Job = { pushId: p.pushId, receivedAt: p.receivedAt, refs, shown: new Set(), done: false };
    if (this.expiredAt !== null && rt.host.clock.now() - this.expiredAt < this.graceMs) {
      // "Time will expire" came moments ago: iOS freezes us after its grace whatever arrives
      // meanwhile (docs/processes.md "The NSE"), so reopening the store now would be frozen
      // with it open. Generic content at once; the message stays at the relay, fetched later.
      rt.log('info', 'nse', 'push right after expiry: best-attempt content, no fetch', { pushId: p.pushId });
      this.onExpire?.([p.pushId]);
      this.bestAttempt(job);
      rt.emit('push-done', { pushId: p.pushId, stored: 0, inboxed: 0, duplicates: 0, expired: true });
      if (rt.phase.phase === 'suspended' && !this.suspending && this.jobs.size === 0) rt.reportSuspended();
      return;
    }
    this.clearGrace();
    this.jobs.add(job);
    try {
      if (this.suspending) {
        job.waiting = true;
        await this.suspending;
        job.waiting = false;
      }
      if (job.done) {
        // Its time expired while it waited (best-attempt content already out): no GET for it now.
        this.jobs.delete(job);
        rt.emit('push-done', { pushId: job.pushId, stored: 0, inboxed: 0, duplicates: 0, expired: true });
        return;
      }
      // A yield may have come in while we waited: it wins, nothing was fetched.
      if (!this.appActive && rt.phase.phase !== 'active') await rt.phase.activate();
      // A reused NSE may have lost its socket (relay restart, long freeze).
      if (!this.appActive) await rt.ensureConnected();
    } catch (e) {
      this.jobs.delete(job);
      if (this.jobs.size === 0 && !this.appActive) this.armGrace();
      throw e;
    }
    if (this.appActive) {
      this.jobs.delete(job);
      return this.handOver(p.pushId, refs.length);
    }
    if (this.budgetTimer === null) this.budgetTimer = rt.host.clock.setTimer(this.budgetMs, () => this.expire());
    const outcomes: InboundOutcome[] = [];
    let expired = false;
    try {
      // Queues in parallel; one queue's GETs are serialized by the coordinator.
      const results = await Promise.allSettled(job.refs.map((r) => this.fetchQueue(job, r.queueId)));
      for (const r of results) {
        if (r.status === 'fulfilled') outcomes.push(...r.value);
        else if (!this.appActive) rt.errorEvent('nse fetch', r.reason, { pushId: job.pushId });
      }
    } finally {
      expired = job.done; // the expiry path finished it first
      job.done = true;
      this.jobs.delete(job);
    }
    rt.emit('push-done', {
      pushId: job.pushId,
      stored: outcomes.filter((o) => o.stored === 'store').length,
      inboxed: outcomes.filter((o) => o.stored === 'inbox').length,
      duplicates: outcomes.filter((o) => o.stored === 'duplicate').length,
      quarantined: outcomes.filter((o) => o.stored === 'quarantine').length,
      expired,
    });
    if (this.jobs.size === 0 && !this.appActive) this.armGrace();
  }

  /**
   * A push while the app is in front: no GET (the app's wake sequence / SUB
   * fetches the queue, so the two never GET the same message) and no content
   * (the app shows it, as when the device suppresses a push for a foreground
   * app). Nothing is lost: the message stays at the relay until the app ACKs.
   */
  private handOver(pushId: string, refs: number): void {
    const { rt } = this;
    rt.log('info', 'nse', 'push handed over to the active app', { pushId, refs });
    rt.emit('handed-over', { pushId, refs });
    rt.emit('push-done', { pushId, stored: 0, inboxed: 0, duplicates: 0, expired: false, handedOver: refs });
    // Still suspended from the yield: say so again, so the device freezes us now that this push is read.
    if (rt.phase.phase === 'suspended' && !this.suspending && this.jobs.size === 0) {
      rt.reportSuspended();
    }
  }

  /**
   * Asked before every GET. The device's word that the app is in front (a yield, app-state) may
   * come late — a thawed NSE reads its commands only after the work it was frozen in — so the
   * app's own request on the lock's yield channel counts as well, and is acted on like a yield.
   */
  private appInFront(): boolean {
    if (this.appActive) return true;
    if (!this.rt.lock.yieldPending()) return false;
    void this.yieldToApp('lock');
    return true;
  }

  private async fetchQueue(job: Job, queueId: string): Promise<InboundOutcome[]> {
    const { rt } = this;
    // Yielded meanwhile: do not start a GET (one already past its gate finishes before `yielded`).
    if (this.appInFront()) return [];
    const deps = rt.inboundDeps('nse', {
      show: async (c) => {
        if (job.done) return; // best-attempt content already delivered for this push
        // Yielded meanwhile: the app is in front and shows the conversation itself (as iOS
        // suppresses a push for the foreground app); a receive that finishes now is stored, not
        // shown — also one that finishes after the app has left again (a suspension forced past
        // the drain, thawed later): the app showed that message while it was in front.
        if (this.appActive || job.handedOver) return;
        // Thread and badge from the store (docs/notifications.md); `deliver` runs right after the reads.
        await rt.presenter.show(c, (p) => {
          // Asked again: the reads took a moment (out of time: the best-attempt content covered it).
          if (job.done || this.appActive || job.handedOver) return;
          job.shown.add(c.msgId);
          if (!p) {
            rt.log('info', 'nse', 'already read: not shown', { msgId: c.msgId, queueId: c.queueId });
            return;
          }
          const latencyMs = rt.host.clock.now() - job.receivedAt;
          // The cold path (GET → store → ACK → content) is compiled now: keep its code for the next
          // launch — before the content goes out, after which iOS may kill us (once per install).
          rt.ports.coldPathReady?.();
          rt.emit('notification', { ...p, pushId: job.pushId, latencyMs });
        });
      },
    }, {
      // A write that met LOCK_TIMEOUT is tried again while this push has time and the app is not in
      // front (the message stays in hand, its GET slot held; nothing more is fetched for it).
      retryWhile: () => !job.done && !this.appInFront(),
      // Until the budget ends it (the own timer, 24 s of iOS's 30) — inside the GET slot's 30 s hold.
      retryLimits: NSE_LOCK_RETRY,
      // Never processable: kept in the quarantine and ACKed; nothing is shown for it, not even at expiry.
      onQuarantined: (msgId) => job.shown.add(msgId),
      // A read marker from the user's other device: applied, nothing to show (docs/notifications.md).
      onControl: (msgId) => job.shown.add(msgId),
    });
    let outs: InboundOutcome[];
    try {
      // Out of time (best-attempt content out) or yielded: no further GET goes out. Extra GETs follow
      // the notification flag (001): again after a message without it, none after the one with it.
      outs = await fetchAndProcess(deps, rt.queues, queueId, { maxExtraGets: this.maxExtraGets, stop: () => job.done || this.appInFront(), untilNotification: true });
    } catch (e) {
      // The app fetched and ACKed the same message first: it is durable (the store deduped), nothing to do.
      if (!isNsekitError(e, 'PROTO_NO_MSG')) throw e;
      rt.log('info', 'nse', 'message already ACKed by the other process', { queueId });
      return [];
    }
    return outs;
  }

  /** "Time will expire" (our own budget timer, or iOS's callback): best-attempt content for every unfinished push, then suspend. */
  expire(): void {
    const { rt } = this;
    // Called by iOS (`expiring`) the timer is still armed: left so, it would expire the next push early.
    if (this.budgetTimer !== null) rt.host.clock.clearTimer(this.budgetTimer);
    this.budgetTimer = null;
    rt.log('warn', 'nse', 'budget expired: delivering best-attempt content', { pending: this.jobs.size });
    this.onExpire?.([...this.jobs].filter((j) => !j.done).map((j) => j.pushId));
    // Even with nothing in flight: a push within the grace would reopen the store, and iOS
    // freezes us at the grace's end with it open (a 0xdead10cc).
    let at: number | null = null;
    for (const job of this.jobs) at = this.bestAttempt(job) ?? at;
    this.expiredAt = at ?? rt.host.clock.now();
    void this.suspend(0);
  }

  /** Generic content at once for what `job` has not shown; the job is over (no further GET). Returns the clock it read, if any. */
  private bestAttempt(job: Job): number | null {
    const { rt } = this;
    // Once per push: iOS takes one contentHandler call. A second expiry (iOS's after our own budget's,
    // or one reached after a thaw) while the job's fetch is still unwinding must not show it again.
    if (job.done) return null;
    job.done = true;
    let at: number | null = null;
    // Handed over to the app (it came to the front mid-fetch): the app shows — and may already have
    // read — those messages; a banner now would stay for a read message (docs/notifications.md).
    if (job.handedOver) return at;
    for (const r of job.refs) {
      if (r.msgId && job.shown.has(r.msgId)) continue;
      at = rt.host.clock.now();
      rt.emit('notification', {
        msgId: r.msgId,
        queueId: r.queueId,
        threadId: threadIdOf(r.queueId),
        title: GENERIC_TITLE,
        body: '',
        pushId: job.pushId,
        bestAttempt: true,
        latencyMs: at - job.receivedAt,
      });
    }
    return at;
  }

  private armGrace(): void {
    this.clearGrace();
    this.graceTimer = this.rt.host.clock.setTimer(this.graceMs, () => {
      this.graceTimer = null;
      if (this.jobs.size === 0) void this.suspend(this.suspendDeadlineMs);
    });
  }

  private clearGrace(): void {
    if (this.graceTimer !== null) this.rt.host.clock.clearTimer(this.graceTimer);
    this.graceTimer = null;
  }

  /**
   * Background, then suspend: drains in order, store closed and lock released
   * before `suspended`. `beforeSuspended` runs first: the device freezes the
   * process as soon as it sees `suspended`, so nothing may be emitted after it.
   */
  suspend(deadlineMs: number, beforeSuspended?: () => void): Promise<void> {
    if (this.suspending) return this.suspending;
    const { rt } = this;
    this.clearGrace();
    if (this.budgetTimer !== null) rt.host.clock.clearTimer(this.budgetTimer);
    this.budgetTimer = null;
    this.suspending = (async () => {
      try {
        if (rt.phase.phase === 'active') await rt.phase.background();
        await rt.phase.suspend(deadlineMs);
        beforeSuspended?.();
        // A push that came in during the drain reactivates us right away: not suspended for
        // the device, which would freeze us in the middle of that push (iOS does not).
        if (!this.appActive && [...this.jobs].some((j) => j.waiting && !j.done)) rt.log('info', 'nse', 'suspended, but a push is waiting: reactivating');
        else rt.reportSuspended();
      } catch (e) {
        rt.errorEvent('nse suspend', e);
      } finally {
        this.suspending = null;
      }
    })();
    return this.suspending;
  }

  /**
   * The app became active: stop starting GETs, drain, release, tell the device.
   * `appActive` is set synchronously, before any await: a push whose GET had
   * not started by now never starts it (onPush/fetchQueue check the flag, and
   * a GET already queued for its gate stays parked — the network classes are
   * blocked from here on); a GET already in flight finishes inside the drain,
   * before `yielded`.
   */
  async yieldToApp(via: 'ipc' | 'lock', yieldId?: number): Promise<void> {
    this.noteYieldId(yieldId);
    const again = this.appActive && this.suspending;
    this.appActive = true;
    for (const j of this.jobs) if (!j.waiting) j.handedOver = true;
    // Receives not yet ACKed are given up now, before anything here can stall: the app may stop
    // waiting for `yielded` (a bounded wait) and GET the same queue, and a slot still held then
    // would let both hold one message. Their messages stay at the relay for the app; a write
    // already made is deduplicated (docs/receive.md "Yield").
    const voided = this.rt.queues.abandonHeld();
    if (voided > 0) this.rt.log('info', 'nse', 'yield: receives in flight given up', { slots: voided });
    if (again) return this.suspending!;
    const t0 = this.rt.host.clock.now();
    this.rt.emit('yielding', { via, inFlight: this.jobs.size });
    this.rt.log('info', 'nse', 'yielding to the app', { via, inFlight: this.jobs.size });
    const report = () => this.rt.emit('yielded', { via, drainMs: this.rt.host.clock.now() - t0, lockHeld: this.rt.lock.held, yieldId: this.lastYieldId });
    // Already suspending for another reason: report when that finishes.
    if (this.suspending) {
      await this.suspending;
      report();
      return;
    }
    await this.suspend(this.suspendDeadlineMs, report);
  }
}
