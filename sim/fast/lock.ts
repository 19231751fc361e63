/**
 * The cross-process lock of the fast mode: one FIFO table shared by every
 * simulated process (the kernel's view), and a per-process `Lock` facade
 * that announces the same failpoints as src/node/lock. The table records who
 * holds it, so a freeze can ask "does this pid hold the lock?" exactly as the
 * real orchestrator asks /proc/locks; a kill releases like the kernel would.
 */
import { NsekitError } from '../../src/core/errors.js';
import type { LockGrant } from '../../src/core/host.js';
import type { SessionLock } from '../../src/core/session/index.js';
import type { ProcCtx } from './proc-ctx.js';

interface Waiter {
  pid: number;
  owner: string;
  grant: () => void;
}

export class LockTable {
  holder: number | null = null;
  generation = 0;
  private waiters: Waiter[] = [];
  /** Generation each pid saw when it last held the lock (for `dirty`). */
  readonly seen = new Map<number, number>();
  /** Holders' yield listeners, per pid. */
  readonly yieldFns = new Map<number, { owner: string; fns: Set<() => void> }>();
  /** A yield request made while nobody held the lock: honoured by the next other holder (as the flock's yield file, docs/lock.md). */
  private yieldReq: { from: number; until: number } | null = null;

  constructor(private readonly post: (owner: string, fn: () => void) => void) {}

  /** Take now if free (and nobody queued), else queue; `grant` runs as a task of `owner`. */
  take(pid: number, owner: string, grant: () => void): Waiter | null {
    if (this.holder === null && this.waiters.length === 0) {
      this.holder = pid;
      grant();
      return null;
    }
    const w = { pid, owner, grant };
    this.waiters.push(w);
    return w;
  }
  cancel(w: Waiter): boolean {
    const i = this.waiters.indexOf(w);
    if (i < 0) return false;
    this.waiters.splice(i, 1);
    return true;
  }
  release(pid: number, wrote: boolean): void {
    if (this.holder !== pid) return;
    if (wrote) this.generation++;
    this.holder = null;
    this.handOff();
  }
  /** The process died: the kernel drops its lock and its queued attempts. */
  dropPid(pid: number): void {
    this.waiters = this.waiters.filter((w) => w.pid !== pid);
    if (this.holder === pid) {
      this.holder = null;
      this.handOff();
    }
  }
  private handOff(): void {
    const w = this.waiters.shift();
    if (!w) return;
    this.holder = w.pid;
    this.post(w.owner, w.grant);
  }

  /** The foreground app asks whoever holds the lock to yield (now, or the next other holder within the request's TTL). */
  requestYield(from: number, now: number, ttlMs: number): void {
    if (this.holder !== null && this.holder !== from) this.notifyYield(this.holder);
    else this.yieldReq = { from, until: now + ttlMs };
  }
  /** A request by another pid is active now. */
  yieldPending(pid: number, now: number): boolean {
    const r = this.yieldReq;
    return !!r && r.from !== pid && r.until >= now;
  }
  /** The requester withdraws its pending request. */
  withdrawYield(from: number): void {
    if (this.yieldReq?.from === from) this.yieldReq = null;
  }
  /** A pid took the lock: a pending request from another pid reaches it. */
  acquired(pid: number, now: number): void {
    const r = this.yieldReq;
    if (!r) return;
    if (r.until < now || r.from === pid) this.yieldReq = null;
    else {
      this.yieldReq = null;
      this.notifyYield(pid);
    }
  }
  private notifyYield(pid: number): void {
    const y = this.yieldFns.get(pid);
    if (y) for (const fn of y.fns) this.post(y.owner, fn);
  }
}

/** A yield request is honoured for this long (docs/lock.md, the flock backend's default TTL). */
const YIELD_TTL_MS = 10_000;

/** One process's handle on the table. */
export class SimLock implements SessionLock {
  constructor(
    private readonly table: LockTable,
    private readonly ctx: ProcCtx,
  ) {}

  get held(): boolean {
    return this.table.holder === this.ctx.pid;
  }

  async acquire(opts: { timeoutMs?: number } = {}): Promise<LockGrant> {
    const { ctx, table } = this;
    await ctx.hit('lock.acquire.start', { backend: 'sim' });
    await new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof ctx.clock.setTimer> | null = null;
      const w = table.take(ctx.pid, ctx.owner, () => {
        if (timer !== null) ctx.clock.clearTimer(timer);
        resolve();
      });
      if (!w) return;
      timer = ctx.clock.setTimer(opts.timeoutMs ?? 5000, () => {
        if (table.cancel(w)) reject(new NsekitError('LOCK_TIMEOUT', `lock not acquired within ${opts.timeoutMs ?? 5000} ms`, { holder: table.holder }));
      });
    });
    table.acquired(ctx.pid, ctx.clock.now());
    const last = table.seen.get(ctx.pid);
    const dirty = last === undefined || last !== table.generation;
    table.seen.set(ctx.pid, table.generation);
    await ctx.hit('lock.acquired', { backend: 'sim', generation: table.generation, dirty });
    return { generation: table.generation, dirty };
  }

  async release(opts: { wrote?: boolean } = {}): Promise<void> {
    const { ctx, table } = this;
    if (!this.held) throw new NsekitError('LOCK_NOT_HELD', 'release without holding the lock');
    const wrote = opts.wrote ?? false;
    await ctx.hit('lock.release', { backend: 'sim', wrote });
    table.release(ctx.pid, wrote);
    if (wrote) table.seen.set(ctx.pid, table.generation);
    await ctx.hit('lock.released', { backend: 'sim', generation: table.generation, wrote });
  }

  requestYield(): void {
    this.table.requestYield(this.ctx.pid, this.ctx.clock.now(), YIELD_TTL_MS);
  }

  withdrawYield(): void {
    this.table.withdrawYield(this.ctx.pid);
  }

  yieldPending(): boolean {
    return this.table.yieldPending(this.ctx.pid, this.ctx.clock.now());
  }

  onYieldRequested(fn: () => void): () => void {
    let y = this.table.yieldFns.get(this.ctx.pid);
    if (!y) this.table.yieldFns.set(this.ctx.pid, (y = { owner: this.ctx.owner, fns: new Set() }));
    y.fns.add(fn);
    return () => y.fns.delete(fn);
  }

  async close(): Promise<void> {
    if (this.held) await this.release({ wrote: true });
    this.table.yieldFns.delete(this.ctx.pid);
  }
}
