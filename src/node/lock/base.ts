import type { LockGrant } from '../../core/host.js';
import { NsekitError } from '../../core/errors.js';
import { nodeClock, silentLog } from '../host.js';
import type { CommonLockOptions, CrossProcessLock, LockHost } from './types.js';
import { YieldWatch } from './yield-watch.js';

const noFp = { hit() {} };
/** Longest stretch of back-to-back attempts before yielding to the event loop. */
const SPIN_BURST_MS = 0.01;

/**
 * What both backends share: the in-process queue (flock is per open file
 * description, so two async callers in one process would otherwise both "hold"
 * it), the non-blocking attempt loop with bounded backoff, generations and the
 * dirty flag, yield requests, failpoints and logging. A backend supplies one
 * non-blocking attempt, unlock, and generation storage.
 */
export abstract class BaseLock implements CrossProcessLock {
  abstract readonly backend: 'flock' | 'lease';
  protected readonly host: LockHost;
  private readonly defaultTimeoutMs: number;
  private readonly yields: YieldWatch;
  private isHeld = false;
  private localBusy = false;
  private localWaiters: Array<() => void> = [];
  private heldGen = 0;
  /** Generation this instance left behind at its last release; undefined before the first. */
  private lastSeenGen: number | undefined;
  private lostReason: string | undefined;
  protected closed = false;
  /**
   * Right after the first failed attempt, keep trying without yielding for this
   * long (0 = not at all). Set by backends whose attempt is cheap (flock); see
   * firstSpin().
   */
  protected firstSpinMs = 0;

  constructor(
    protected readonly lockPath: string,
    opts: CommonLockOptions,
  ) {
    this.host = opts.host ?? { clock: nodeClock, log: silentLog, failpoints: noFp };
    this.defaultTimeoutMs = opts.defaultTimeoutMs ?? 10_000;
    this.yields = new YieldWatch(lockPath, this.host, () => this.backend, opts.yieldPollMs ?? 100, opts.yieldTtlMs ?? 10_000);
  }

  /** One non-blocking attempt. True = now held. Throws NsekitError on anything but "busy". */
  protected abstract tryLock(): boolean;
  /** Let the lock go (the generation is already written). */
  protected abstract unlock(): void;
  protected abstract readGen(): number;
  protected abstract writeGen(gen: number): void;
  /** Best-known holder pid for LOCK_TIMEOUT details. */
  protected abstract holderPid(): number | undefined;
  protected abstract closeBackend(): void;
  /** Wait before attempt n+1 given the previous wait (ms); backends shape their backoff. */
  protected abstract nextDelay(prevMs: number | undefined): number;

  get held(): boolean {
    return this.isHeld;
  }

  generation(): number {
    return this.readGen();
  }

  async acquire(opts?: { timeoutMs?: number }): Promise<LockGrant> {
    const timeoutMs = opts?.timeoutMs ?? this.defaultTimeoutMs;
    const { clock, failpoints } = this.host;
    const start = clock.now();
    const deadline = start + timeoutMs;
    const fp = failpoints.hit('lock.acquire.start', { backend: this.backend });
    if (fp) await fp;
    // Uncontended paths stay synchronous: no extra promise/microtask hops.
    if (this.localBusy || this.closed) await this.takeLocal(deadline, start);
    else this.localBusy = true;
    try {
      if (!this.attempt() && !this.firstSpin(Math.min(this.firstSpinMs, deadline - clock.now()))) {
        await this.takeCross(deadline, start);
      }
    } catch (e) {
      this.giveLocal();
      throw e;
    }
    let gen: number;
    try {
      gen = this.readGen();
    } catch (e) {
      this.unlockQuietly();
      this.giveLocal();
      throw e;
    }
    const dirty = this.lastSeenGen === undefined ? true : gen !== this.lastSeenGen;
    this.heldGen = gen;
    this.isHeld = true;
    this.yields.acquired();
    this.host.log.log('debug', 'lock', 'acquired', { backend: this.backend, generation: gen, dirty });
    const fp2 = failpoints.hit('lock.acquired', { backend: this.backend, generation: gen, dirty });
    if (fp2) await fp2;
    return { generation: gen, dirty };
  }

  async release(opts?: { wrote?: boolean }): Promise<void> {
    const wrote = opts?.wrote ?? false;
    if (this.lostReason !== undefined) return this.releaseLost(wrote);
    if (!this.isHeld) throw new NsekitError('LOCK_NOT_HELD', `release of ${this.lockPath} without holding it`);
    const { failpoints } = this.host;
    const fp = failpoints.hit('lock.release', { backend: this.backend, wrote });
    if (fp) await fp;
    let gen = this.heldGen;
    try {
      if (wrote) {
        gen = this.nextGen();
        this.writeGen(gen);
      }
    } finally {
      this.lastSeenGen = gen;
      this.isHeld = false;
      this.yields.released();
      try {
        this.unlock();
      } finally {
        this.giveLocal();
      }
    }
    this.host.log.log('debug', 'lock', 'released', { backend: this.backend, generation: gen, wrote });
    const fp2 = failpoints.hit('lock.released', { backend: this.backend, generation: gen, wrote });
    if (fp2) await fp2;
  }

  /**
   * Release after the backend lost the lock while we held it (lease taken over):
   * still publish the write (others must reload), do not unlock what is no longer
   * ours, free the in-process slot, and tell the caller its section was not exclusive.
   */
  private releaseLost(wrote: boolean): never {
    const reason = this.lostReason;
    this.lostReason = undefined;
    let gen = this.heldGen;
    try {
      if (wrote) {
        gen = this.nextGen();
        this.writeGen(gen);
      }
    } catch (e) {
      this.host.log.log('error', 'lock', 'generation not written after lock loss', { err: String(e) });
    } finally {
      this.lastSeenGen = gen;
      this.giveLocal();
    }
    throw new NsekitError('LOCK_NOT_HELD', `${this.backend} lock ${this.lockPath} was lost while held: ${reason}`, {
      lost: true,
      reason,
    });
  }

  /** Generation to store after a write; the lease backend re-reads in case it lost the lease. */
  protected nextGen(): number {
    return this.heldGen + 1;
  }

  async withLock<T>(fn: (g: LockGrant) => T | Promise<T>, opts?: { timeoutMs?: number; wrote?: boolean }): Promise<T> {
    const g = await this.acquire(opts?.timeoutMs === undefined ? undefined : { timeoutMs: opts.timeoutMs });
    // Bump on failure too: a spurious "dirty" costs a reload, a missed one serves stale caches.
    const wrote = opts?.wrote ?? true;
    let result: T;
    try {
      result = await fn(g);
    } catch (e) {
      await this.release({ wrote });
      throw e;
    }
    await this.release({ wrote });
    return result;
  }

  requestYield(): void {
    this.yields.request();
  }

  withdrawYield(): void {
    this.yields.withdraw();
  }

  yieldPending(): boolean {
    return this.yields.pending();
  }

  onYieldRequested(fn: () => void): () => void {
    return this.yields.on(fn);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.isHeld || this.lostReason !== undefined) {
      try {
        await this.release({ wrote: true });
      } catch (e) {
        this.host.log.log('warn', 'lock', 'release on close failed', { err: String(e) });
      }
    }
    this.closed = true;
    this.yields.close();
    for (const w of this.localWaiters.splice(0)) w();
    this.closeBackend();
  }

  /**
   * Backends call this when they learn the lock was lost while held (lease
   * compromised). `held` turns false at once so the holder can check it before
   * committing; the in-process slot stays taken until the holder's release().
   */
  protected markLost(reason: string): void {
    if (!this.isHeld) return;
    this.isHeld = false;
    this.lostReason = reason;
    this.yields.released();
    this.host.log.log('error', 'lock', 'lock lost while held', { backend: this.backend, reason });
  }

  private async takeLocal(deadline: number, start: number): Promise<void> {
    while (this.localBusy) {
      this.assertOpen();
      const left = deadline - this.host.clock.now();
      if (left <= 0) throw this.timeout(start);
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          this.host.clock.clearTimer(h);
          resolve();
        };
        const h = this.host.clock.setTimer(left, () => {
          const i = this.localWaiters.indexOf(wake);
          if (i >= 0) this.localWaiters.splice(i, 1);
          resolve();
        });
        this.localWaiters.push(wake);
      });
    }
    this.assertOpen();
    this.localBusy = true;
  }

  private giveLocal(): void {
    this.localBusy = false;
    this.localWaiters.shift()?.();
  }

  private async takeCross(deadline: number, start: number): Promise<void> {
    let delay: number | undefined;
    let since: number | undefined;
    try {
      for (;;) {
        this.assertOpen();
        // The caller made the first attempt and the first spin; later rounds start with an attempt.
        if (since !== undefined && this.attempt()) return;
        const left = deadline - this.host.clock.now();
        if (left <= 0) throw this.timeout(start);
        since ??= Date.now();
        delay = this.nextDelay(delay);
        this.publishWant(since, delay);
        if (delay < 1) {
          if (await this.spin(delay)) return;
        } else {
          await new Promise<void>((r) => this.host.clock.setTimer(Math.min(delay!, left), r));
        }
      }
    } catch (e) {
      if (since !== undefined) this.withdrawWant();
      throw e;
    }
  }

  private attempt(): boolean {
    return this.tryLock();
  }

  /**
   * Fairness hooks (flock): before each wait of `delayMs`, advertise "I have
   * been waiting since `since` (epoch ms)"; withdraw it after giving up. After a
   * successful wait the backend clears its advertisement itself, at release, to
   * keep the handoff path short.
   */
  protected publishWant(_since: number, _delayMs: number): void {}
  protected withdrawWant(): void {}

  /**
   * Back-to-back attempts for `ms` without yielding to the event loop: about one
   * short store transaction, so the common handoff is caught within one
   * attempt's time instead of one event-loop turn's. Bounded (≈0.1 ms), so it is
   * a short spin, never a core burnt while the holder works (docs/lock.md "flock details").
   */
  private firstSpin(ms: number): boolean {
    if (ms <= 0) return false;
    const until = performance.now() + ms;
    do {
      if (this.attempt()) return true;
    } while (performance.now() < until);
    return false;
  }

  /**
   * Sub-millisecond wait: a few attempts per event-loop turn (a burst of at most
   * SPIN_BURST_MS, then setImmediate) until `ms` has passed. Bounded by the
   * backoff (≈1.5 ms in all with the defaults) so it never becomes a long spin;
   * yielding every few µs keeps the process responsive, and the burst saves the
   * per-turn poll syscall on most attempts so a quick handoff is caught fast.
   */
  private async spin(ms: number): Promise<boolean> {
    const until = performance.now() + ms;
    do {
      await new Promise<void>((r) => setImmediate(r));
      this.assertOpen();
      const burstEnd = performance.now() + SPIN_BURST_MS;
      do {
        if (this.attempt()) return true;
      } while (performance.now() < burstEnd);
    } while (performance.now() < until);
    return false;
  }

  private timeout(start: number): NsekitError {
    const waitedMs = this.host.clock.now() - start;
    let holderPid: number | undefined;
    try {
      holderPid = this.holderPid();
    } catch {
      holderPid = undefined;
    }
    this.host.log.log('warn', 'lock', 'acquire timed out', { backend: this.backend, waitedMs, holderPid });
    return new NsekitError('LOCK_TIMEOUT', `${this.backend} lock ${this.lockPath} not acquired in ${waitedMs} ms`, {
      waitedMs,
      holderPid,
      backend: this.backend,
      lockPath: this.lockPath,
    });
  }

  private assertOpen(): void {
    if (this.closed) throw new NsekitError('LOCK_IO', `lock ${this.lockPath} is closed`);
  }

  private unlockQuietly(): void {
    try {
      this.unlock();
    } catch {
      /* already failing; the original error is the one to report */
    }
  }
}
