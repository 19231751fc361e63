import { isNsekitError } from '../../core/errors.js';
import type { Failpoints, Lock } from '../../core/host.js';
import { toStoreError } from './open-db.js';
import type { Statements } from './statements.js';

export interface GroupCommitDeps {
  lock: Lock;
  failpoints: Failpoints;
  lockTimeoutMs: number;
  /** Most writes in one transaction. */
  maxGroup: number;
  dbPath: string;
  /** The open connection's statements (throws STORE_CLOSED once closed). */
  stmts: () => Statements;
  /** The lock grant said another process wrote since our last release: caches are stale. */
  onDirty: () => void;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
}

interface Member {
  op: string;
  fn: (s: Statements) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

/**
 * The store's writer (docs/store.md, "Group commit"): each write call becomes a member of the next
 * transaction — lock.acquire → BEGIN IMMEDIATE … COMMIT → lock.release({wrote}) — so concurrent
 * writers share one lock hold and one sync, and a write resolves only after the COMMIT that holds it.
 */
export class GroupCommit {
  /** Writes queued or in a running group; `idle()` waits for them. */
  private inflight = 0;
  /** Writes waiting for the next group. */
  private readonly queue: Member[] = [];
  /** A drain loop is running groups. */
  private running = false;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly o: GroupCommitDeps) {}

  /** Resolves once no write is queued or running (close waits for it). */
  async idle(): Promise<void> {
    while (this.inflight > 0) await new Promise<void>((res) => this.waiters.push(res));
  }

  /**
   * Group commit. A write joins the queue; if no group is running, one starts at once (no timer:
   * an uncontended write costs what it did before). A group is everything queued when the lock is
   * granted, so writes that arrive while a transaction (or the lock wait) is under way ride in the
   * next single transaction: one lock hold, one BEGIN IMMEDIATE … COMMIT, one sync. Each member
   * settles only after that COMMIT returned (and the lock was released), with its own result.
   */
  enqueue<T>(op: string, fn: (s: Statements) => T): Promise<T> {
    try {
      this.o.stmts(); // fail fast with STORE_CLOSED before touching the lock
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<T>((resolve, reject) => {
      this.inflight++;
      this.queue.push({ op, fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      // No await between the last length check and `running = false`: a write enqueued after it starts a new drain.
      while (this.queue.length > 0) await this.runGroup().catch((e) => this.o.log('error', 'group commit failed', { error: String(e) }));
    } finally {
      this.running = false;
    }
  }

  private async runGroup(): Promise<void> {
    const { lock, failpoints } = this.o;
    // A lock failure fails the writes that waited the whole time; later arrivals get a fresh acquire.
    const waited = this.queue.length;
    let grant;
    try {
      grant = await lock.acquire({ timeoutMs: this.o.lockTimeoutMs });
    } catch (e) {
      this.settle(this.queue.splice(0, waited), [], { e });
      return;
    }
    const group = this.queue.splice(0, this.o.maxGroup);
    const results: unknown[] = new Array(group.length);
    /** A member's own failure (its savepoint rolled back, the others commit). */
    const own: ({ e: unknown } | undefined)[] = new Array(group.length);
    let failure: { e: unknown } | null = null;
    let wrote = false;
    try {
      if (grant.dirty) this.o.onDirty();
      const s = this.o.stmts();
      const op = group.length === 1 || group.every((m) => m.op === group[0]!.op) ? group[0]!.op : 'group';
      const fields = group.length === 1 ? { op } : { op, writes: group.length };
      s.begin.run();
      try {
        const fp1 = failpoints.hit('db.tx.begin', fields);
        if (fp1) await fp1;
        if (group.length === 1) results[0] = group[0]!.fn(s);
        else for (let i = 0; i < group.length; i++) this.runMember(s, group[i]!, i, results, own);
        const fp2 = failpoints.hit('db.tx.commit', fields);
        if (fp2) await fp2;
        s.commit.run();
        wrote = true;
      } catch (e) {
        if (s.db.inTransaction) s.rollback.run();
        if (!isNsekitError(e)) this.o.log('error', 'write failed', { op, writes: group.length, error: String(e) });
        throw toStoreError(e, this.o.dbPath);
      }
    } catch (e) {
      failure = { e: toStoreError(e, this.o.dbPath) };
    }
    try {
      await lock.release({ wrote });
    } catch (e) {
      // As before: the caller learns the release failed (e.g. LOCK_NOT_HELD after a commit); a
      // failed transaction keeps its own error.
      failure ??= { e };
    }
    this.settle(group, results, failure, own);
  }

  /** One member of a multi-write group, inside its own savepoint: its failure is its own. */
  private runMember(s: Statements, m: Member, i: number, results: unknown[], own: ({ e: unknown } | undefined)[]): void {
    s.savepoint.run();
    try {
      results[i] = m.fn(s);
      s.releaseSavepoint.run();
    } catch (e) {
      // SQLite rolled the whole transaction back (I/O error, full disk …): the group fails.
      if (!s.db.inTransaction) throw e;
      s.rollbackToSavepoint.run();
      s.releaseSavepoint.run();
      if (!isNsekitError(e)) this.o.log('error', 'write failed', { op: m.op, error: String(e) });
      own[i] = { e: toStoreError(e, this.o.dbPath) };
    }
  }

  /** Settle members: a group `failure` rejects every one (none is durable); else its result or its own error. */
  private settle(group: Member[], results: unknown[], failure: { e: unknown } | null, own: ({ e: unknown } | undefined)[] = []): void {
    for (let i = 0; i < group.length; i++) {
      const m = group[i]!;
      const err = failure ?? own[i];
      if (err) m.reject(err.e);
      else m.resolve(results[i]);
    }
    this.inflight -= group.length;
    if (this.inflight === 0) for (const res of this.waiters.splice(0)) res();
  }

}
