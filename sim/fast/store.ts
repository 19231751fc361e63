/**
 * The shared store of the fast mode. `SimDb` is the durable state both
 * processes share (what is on disk after COMMIT); `SimStore` is one process's
 * connection with the same bracket as src/node/store: gate('database') →
 * lock → BEGIN → write → COMMIT → release. Writes are staged per transaction
 * and reach the durable map only at COMMIT, so a kill between the write and
 * the commit loses them, as a killed SQLite writer does.
 */
import { NsekitError } from '../../src/core/errors.js';
import type { Gate, Store, StoredMessage } from '../../src/core/host.js';
import type { BrokenVariant } from '../broken.js';
import type { SimLock } from './lock.js';
import type { ProcCtx } from './proc-ctx.js';

export class SimDb {
  readonly messages = new Map<string, StoredMessage>();
  readonly notified = new Set<string>();
  /** Committed message ids in insertion order (one per row). */
  readonly rows: string[] = [];
}

interface Tx {
  puts: StoredMessage[];
  notified: string[];
}

export class SimStore implements Store {
  private open_ = true;
  private inflight = 0;
  private idle: (() => void)[] = [];
  private ref = 0;

  constructor(
    private readonly db: SimDb,
    private readonly lock: SimLock,
    private readonly gate: Gate,
    private readonly ctx: ProcCtx,
    private readonly broken?: BrokenVariant,
  ) {}

  get isOpen(): boolean {
    return this.open_;
  }
  open(): void {
    this.open_ = true;
  }

  /** Wait for in-flight writes, checkpoint under the lock, close (the onSuspend path). */
  async close(): Promise<void> {
    if (!this.open_) return;
    while (this.inflight > 0) await new Promise<void>((r) => this.idle.push(r));
    this.open_ = false;
    await this.lock.acquire({ timeoutMs: 5000 });
    this.ctx.record('info', 'db.checkpoint', { mode: 'TRUNCATE' });
    // test-only broken variant: the lock is kept across the suspension.
    if (this.broken === 'no-lock-release-on-suspend') return;
    await this.lock.release({ wrote: false });
  }

  putMessage(m: StoredMessage): Promise<boolean> {
    return this.write('putMessage', m.msgId, (tx, has) => {
      if (has(m.msgId)) return false;
      tx.puts.push(m);
      return true;
    });
  }
  /** Rows and `notified` ids (the inbox's markers) in one transaction. */
  putMessages(ms: StoredMessage[], notified: readonly string[] = []): Promise<number> {
    return this.write('putMessages', undefined, (tx, has) => {
      let n = 0;
      for (const m of ms) if (!has(m.msgId) && !tx.puts.some((p) => p.msgId === m.msgId)) (tx.puts.push(m), n++);
      for (const id of notified) if (!this.db.notified.has(id) && !tx.notified.includes(id)) tx.notified.push(id);
      return n;
    });
  }
  async hasMessage(msgId: string): Promise<boolean> {
    return this.gate.run('database', () => this.db.messages.has(msgId));
  }
  markNotified(msgId: string): Promise<boolean> {
    return this.write('markNotified', msgId, (tx) => {
      if (this.db.notified.has(msgId) || tx.notified.includes(msgId)) return false;
      tx.notified.push(msgId);
      return true;
    });
  }

  private write<T>(op: string, msgId: string | undefined, fn: (tx: Tx, has: (id: string) => boolean) => T): Promise<T> {
    return this.gate.run('database', () => this.writeLocked(op, msgId, fn));
  }

  private async writeLocked<T>(op: string, msgId: string | undefined, fn: (tx: Tx, has: (id: string) => boolean) => T): Promise<T> {
    const ref = `${this.ctx.pid}.${++this.ref}`;
    // A DB operation starts here (past the gate): the gates checker judges this op.
    this.ctx.record('invoke', 'store.put', msgId ? { op, msgId } : { op }, { ref });
    if (!this.open_) {
      const e = new NsekitError('STORE_CLOSED', 'store is closed', { op });
      this.ctx.record('fail', 'store.put', { op }, { ref, error: e.code });
      throw e;
    }
    this.inflight++;
    let wrote = false;
    try {
      await this.lock.acquire({ timeoutMs: 5000 });
    } catch (e) {
      this.settled();
      this.ctx.record('fail', 'store.put', { op }, { ref, error: (e as NsekitError).code ?? String(e) });
      throw e;
    }
    try {
      const tx: Tx = { puts: [], notified: [] };
      await this.ctx.hit('db.tx.begin', { op });
      const result = fn(tx, (id) => this.db.messages.has(id));
      await this.ctx.hit('db.tx.commit', { op });
      // COMMIT: from here the rows are durable.
      for (const m of tx.puts) {
        this.db.messages.set(m.msgId, m);
        this.db.rows.push(m.msgId);
      }
      for (const id of tx.notified) this.db.notified.add(id);
      wrote = true;
      this.ctx.record('ok', 'store.put', { op }, { ref });
      return result;
    } finally {
      try {
        await this.lock.release({ wrote });
      } finally {
        this.settled();
      }
    }
  }

  private settled(): void {
    if (--this.inflight === 0) for (const r of this.idle.splice(0)) r();
  }
}
