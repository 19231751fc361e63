/**
 * The shared store of the fast mode. `SimDb` is the durable state both
 * processes share (what is on disk after COMMIT); `SimStore` is one process's
 * connection with the same bracket as src/node/store: gate('database') →
 * lock → BEGIN → write → COMMIT → release. Writes are staged per transaction
 * and reach the durable map only at COMMIT, so a kill between the write and
 * the commit loses them, as a killed SQLite writer does.
 */
import { NsekitError } from '../../src/core/errors.js';
import type { Gate, StoredMessage } from '../../src/core/host.js';
import { DEFAULT_STORE_SYNC, type Cursor, type OutboxItem, type OutboxState, type QuarantineEntry, type SessionStore, type StoreSync } from '../../src/core/session/index.js';
import type { QuarantineInput } from '../../src/core/inbound/index.js';
import type { SimLock } from './lock.js';
import type { ProcCtx } from './proc-ctx.js';

export class SimDb {
  readonly messages = new Map<string, StoredMessage>();
  readonly notified = new Set<string>();
  /** Committed message ids in insertion order (one per row). */
  readonly rows: string[] = [];
  readonly cursors = new Map<string, Cursor>();
  /** The app's outbox, by clientId (insertion order = send order). */
  readonly outbox = new Map<string, OutboxItem>();
  /** Inbound messages that never open, kept as received (docs/receive.md "Quarantine"), by msgId. */
  readonly quarantine = new Map<string, QuarantineEntry>();
  /** Messages whose conversation was opened since they were stored (docs/notifications.md "Unread"). */
  readonly read = new Set<string>();
  /** The badge: stored messages with the notification flag, not read. */
  unread(): number {
    let n = 0;
    for (const m of this.messages.values()) if (m.flags.notification && !this.read.has(m.msgId)) n++;
    return n;
  }
  /**
   * Commits that are visible but not yet on stable storage (synchronous = NORMAL: the WAL is
   * synced at checkpoints), newest last, each as the way to take it back.
   */
  private unsynced: (() => void)[] = [];

  /** Record how to take back a commit that is not synced yet. */
  pending(undo: () => void): void {
    this.unsynced.push(undo);
  }
  /** A checkpoint (or a synced commit): everything committed so far survives a power cut. */
  sync(): void {
    this.unsynced = [];
  }
  /** Power cut: unsynced commits are gone. Returns how many. */
  powerCut(): number {
    const n = this.unsynced.length;
    for (const undo of this.unsynced.reverse()) undo();
    this.unsynced = [];
    return n;
  }
}

interface Tx {
  puts: StoredMessage[];
  notified: string[];
  /** Other row changes, applied at COMMIT. */
  apply: (() => void)[];
}

export class SimStore implements SessionStore {
  private open_ = false;
  private unlocked_ = false;
  private inflight = 0;
  private idle: (() => void)[] = [];
  private ref = 0;

  constructor(
    private readonly db: SimDb,
    private readonly lock: SimLock,
    private readonly gate: Gate,
    private readonly ctx: ProcCtx,
    /** The session's store durability (src/core/session/config.ts). */
    private readonly sync: StoreSync = DEFAULT_STORE_SYNC,
  ) {}

  get unlocked(): boolean {
    return this.open_ && this.unlocked_;
  }
  /** The fast store keeps no key check: the key is the world's, always right. */
  async unlock(): Promise<void> {
    this.unlocked_ = true;
  }
  lockDevice(): void {
    this.unlocked_ = false;
  }

  get isOpen(): boolean {
    return this.open_;
  }
  /**
   * The database file is open (SQLite's file locks held): from open() until a close has
   * finished its checkpoint — longer than isOpen, as the Node store's. A freeze meanwhile is
   * a 0xdead10cc (sim/fast/world.ts freeze, as the real engine's /proc/locks check).
   */
  get fileOpen(): boolean {
    return this.open_ || this.closing !== null;
  }
  open(): void {
    this.open_ = true;
  }

  /** Wait for in-flight writes, checkpoint under the lock, close; a second call waits for the first (as the Node store). */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose().finally(() => (this.closing = null));
    return this.closing;
  }
  private closing: Promise<void> | null = null;

  private async doClose(): Promise<void> {
    if (!this.open_) return;
    while (this.inflight > 0) await new Promise<void>((r) => this.idle.push(r));
    if (!this.open_) return;
    this.open_ = false;
    try {
      await this.lock.acquire({ timeoutMs: 5000 });
    } catch (e) {
      // As the Node store: not fatal, the checkpoint is skipped (the WAL stays for the next opener) and the store closes.
      this.ctx.record('info', 'db.checkpoint.skipped', { error: (e as NsekitError).code ?? String(e) });
      return;
    }
    this.ctx.record('info', 'db.checkpoint', { mode: 'TRUNCATE' });
    this.db.sync(); // a checkpoint syncs the WAL
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
    return this.read(() => this.db.messages.has(msgId));
  }
  countMessages(): Promise<number> {
    return this.read(() => this.db.messages.size);
  }
  getCursor(queueId: string): Promise<Cursor> {
    return this.read(() => ({ ...(this.db.cursors.get(queueId) ?? { lastMsgId: null, lastTs: 0 }) }));
  }
  setCursor(queueId: string, c: Cursor): Promise<void> {
    return this.write('setCursor', undefined, (tx) => void tx.apply.push(() => this.db.cursors.set(queueId, { ...c })));
  }
  outboxAdd(item: { clientId: string; queueId: string; body: Uint8Array }): Promise<boolean> {
    return this.write('outboxAdd', undefined, (tx) => {
      if (this.db.outbox.has(item.clientId)) return false;
      const now = this.ctx.clock.now();
      tx.apply.push(() => this.db.outbox.set(item.clientId, { ...item, body: item.body.slice(), state: 'pending', attempts: 0, updatedAt: now, createdAt: now, lastError: null }));
      return true;
    });
  }
  /** Neither sent nor failed, in send order. */
  outboxPending(): Promise<OutboxItem[]> {
    return this.read(() => [...this.db.outbox.values()].filter((i) => i.state !== 'sent' && i.state !== 'failed').map((i) => ({ ...i })));
  }
  outboxMark(clientId: string, state: Exclude<OutboxState, 'pending'>, info: { error?: string } = {}): Promise<void> {
    return this.write('outboxMark', undefined, (tx) => {
      const now = this.ctx.clock.now();
      tx.apply.push(() => {
        const it = this.db.outbox.get(clientId);
        if (!it) return;
        it.attempts += state === 'sending' ? 1 : 0;
        it.state = state;
        it.updatedAt = now;
        if (info.error !== undefined) it.lastError = info.error;
      });
    });
  }
  outboxList(state: OutboxState): Promise<OutboxItem[]> {
    return this.read(() => [...this.db.outbox.values()].filter((i) => i.state === state).map((i) => ({ ...i })));
  }
  /** Sent rows but the `keepSent` most recent go (as the Node store's DELETE). */
  outboxPrune(keepSent: number): Promise<number> {
    return this.write('outboxPrune', undefined, (tx) => {
      const sent = [...this.db.outbox.values()].filter((i) => i.state === 'sent');
      const stay = new Set(
        sent
          .map((i, n) => ({ i, n }))
          .sort((a, b) => b.i.updatedAt - a.i.updatedAt || b.n - a.n)
          .slice(0, Math.max(0, Math.floor(keepSent)))
          .map((x) => x.i.clientId),
      );
      const gone = sent.filter((i) => !stay.has(i.clientId)).map((i) => i.clientId);
      tx.apply.push(() => gone.forEach((id) => this.db.outbox.delete(id)));
      return gone.length;
    });
  }

  quarantineAdd(e: QuarantineInput): Promise<boolean> {
    return this.write('quarantineAdd', e.msgId, (tx) => {
      const now = this.ctx.clock.now();
      const had = this.db.quarantine.has(e.msgId);
      tx.apply.push(() => {
        const old = this.db.quarantine.get(e.msgId);
        if (old) this.db.quarantine.set(e.msgId, { ...old, reason: e.reason, via: e.via, attempts: old.attempts + 1, lastAt: now });
        else this.db.quarantine.set(e.msgId, { ...e, flags: { ...e.flags }, sealed: e.sealed.slice(), attempts: 1, firstAt: now, lastAt: now });
      });
      return !had;
    });
  }
  quarantineList(queueId?: string): Promise<QuarantineEntry[]> {
    return this.read(() => [...this.db.quarantine.values()].filter((q) => queueId === undefined || q.queueId === queueId).map((q) => ({ ...q })));
  }
  quarantineRemove(msgId: string): Promise<boolean> {
    return this.write('quarantineRemove', msgId, (tx) => {
      const had = this.db.quarantine.has(msgId);
      tx.apply.push(() => this.db.quarantine.delete(msgId));
      return had;
    });
  }

  unreadCount(): Promise<number> {
    return this.read(() => this.db.unread());
  }
  isRead(msgId: string): Promise<boolean> {
    return this.read(() => this.db.read.has(msgId));
  }
  unreadInThread(queueId: string): Promise<number> {
    return this.read(() => {
      let n = 0;
      for (const m of this.db.messages.values()) if (m.queueId === queueId && m.flags.notification && !this.db.read.has(m.msgId)) n++;
      return n;
    });
  }
  threadLastTs(queueId: string): Promise<number | null> {
    return this.read(() => {
      let last: number | null = null;
      for (const m of this.db.messages.values()) if (m.queueId === queueId && (last === null || m.ts > last)) last = m.ts;
      return last;
    });
  }
  markThreadRead(queueId: string, upToTs?: number): Promise<string[]> {
    return this.write('markThreadRead', undefined, (tx) => {
      const ids = [...this.db.messages.values()].filter((m) => m.queueId === queueId && !this.db.read.has(m.msgId) && (upToTs === undefined || m.ts <= upToTs)).map((m) => m.msgId);
      tx.apply.push(() => ids.forEach((id) => this.db.read.add(id)));
      return ids;
    });
  }

  /** A read: a WAL snapshot, no lock, but a database operation for the gate. */
  private read<T>(fn: () => T): Promise<T> {
    return this.gate.run('database', () => {
      if (!this.open_) throw new NsekitError('STORE_CLOSED', 'store is closed');
      return fn();
    });
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
      const tx: Tx = { puts: [], notified: [], apply: [] };
      await this.ctx.hit('db.tx.begin', { op });
      const result = fn(tx, (id) => this.db.messages.has(id));
      await this.ctx.hit('db.tx.commit', { op });
      // COMMIT: from here the rows are visible to every connection; synced now (FULL), or at the
      // next checkpoint (NORMAL), until which a power cut takes them back.
      const db = this.db;
      const undo: (() => void)[] = [];
      for (const m of tx.puts) {
        db.messages.set(m.msgId, m);
        db.rows.push(m.msgId);
        undo.push(() => {
          db.messages.delete(m.msgId);
          const i = db.rows.lastIndexOf(m.msgId);
          if (i >= 0) db.rows.splice(i, 1);
        });
      }
      for (const id of tx.notified) {
        db.notified.add(id);
        undo.push(() => db.notified.delete(id));
      }
      if (tx.apply.length) {
        const before = { cursors: new Map(db.cursors), outbox: new Map([...db.outbox].map(([k, v]) => [k, { ...v }])), quarantine: new Map(db.quarantine), read: new Set(db.read) };
        for (const f of tx.apply) f();
        undo.push(() => {
          db.cursors.clear();
          for (const [k, v] of before.cursors) db.cursors.set(k, v);
          db.outbox.clear();
          for (const [k, v] of before.outbox) db.outbox.set(k, v);
          db.quarantine.clear();
          for (const [k, v] of before.quarantine) db.quarantine.set(k, v);
          db.read.clear();
          for (const id of before.read) db.read.add(id);
        });
      }
      if (this.sync === 'full') db.sync();
      else db.pending(() => undo.reverse().forEach((f) => f()));
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
