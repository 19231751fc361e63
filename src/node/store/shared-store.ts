import type Database from 'better-sqlite3';
import { EnvelopeKind, deriveKeyRing, open as openEnvelope, seal, wipe } from '../../core/crypto/index.js';
import type { KeyRing } from '../../core/crypto/index.js';
import { NsekitError, isNsekitError } from '../../core/errors.js';
import { utf8Encode, bytesEqual } from '../../core/bytes.js';
import type { Gate, Store, StoredMessage } from '../../core/host.js';
import { openGate } from '../../core/host.js';
import { openChecked, toStoreError } from './open-db.js';
import { migrate } from './schema.js';
import { Statements } from './statements.js';
import { flagsToInt, intToFlags } from './types.js';
import type { Cursor, MessageRow, OutboxItem, OutboxRow, OutboxState, PlainMessage, QuarantineRow, SharedStoreOptions } from './types.js';
import type { QuarantineInput } from '../../core/inbound/index.js';
import type { QuarantineEntry } from '../../core/session/ports.js';

const KEYCHECK_PLAINTEXT = utf8Encode('nsekit/v1/keycheck');
const KEYCHECK_BINDING = { kind: EnvelopeKind.keyCheck, recordId: 'keycheck', queueId: '' } as const;

/**
 * The shared encrypted store (better-sqlite3, WAL, synchronous=FULL by default). Every write
 * call passes gate.run('database'); write transactions run lock.acquire → BEGIN IMMEDIATE … COMMIT
 * → lock.release({wrote}), one per group of the write calls queued while the previous one ran
 * (group commit, see enqueue). A write resolves only after the COMMIT that holds it returned.
 * Reads use WAL snapshots and take no cross-process lock.
 */
export class SharedStore implements Store {
  private db: Database.Database | null = null;
  private st: Statements | null = null;
  private keys: KeyRing | null = null;
  /** Writes past the gate (queued or in a running group); close() waits for them. */
  private inflight = 0;
  /** Writes waiting for the next group (see enqueue). */
  private readonly queue: Member[] = [];
  /** A drain loop is running groups. */
  private running = false;
  private readonly maxGroup: number;
  private idle: (() => void)[] = [];
  private readonly dirtyFns = new Set<() => void>();
  private readonly gate: Gate;
  private readonly lockTimeoutMs: number;

  constructor(private readonly opts: SharedStoreOptions) {
    this.gate = opts.gate ?? openGate;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 5000;
    this.maxGroup = Math.max(1, opts.maxGroupWrites ?? 64);
  }

  get isOpen(): boolean {
    return this.db !== null;
  }
  get unlocked(): boolean {
    return this.keys !== null;
  }

  open(): void {
    if (this.db) return;
    const { dbPath } = this.opts;
    // Generous busy timeout while migrating: open() is synchronous and cannot take our async lock.
    const db = openChecked(dbPath, Math.max(2000, this.opts.busyTimeoutMs ?? 250), this.opts.integrityCheck !== 'none');
    try {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${this.opts.synchronous ?? 'FULL'}`);
      migrate(db, dbPath);
      db.pragma(`busy_timeout = ${this.opts.busyTimeoutMs ?? 250}`);
    } catch (e) {
      db.close();
      throw toStoreError(e, dbPath);
    }
    this.db = db;
    this.st = new Statements(db);
    this.log('info', 'store opened', { dbPath });
  }

  /**
   * Derive the key ring (or take one the caller already derived from the same
   * master key; the store keeps its own copy) and verify it against the sealed
   * key-check row (created on first unlock).
   */
  async unlock(masterKey: Uint8Array, ring?: KeyRing): Promise<void> {
    const keys: KeyRing = ring ? copyRing(ring) : deriveKeyRing(masterKey);
    let sealed = this.stmts().getMeta.pluck().get('keycheck') as Buffer | undefined;
    if (!sealed) {
      const mine = seal(keys.keycheck, this.opts.host.rng, KEYCHECK_BINDING, KEYCHECK_PLAINTEXT);
      await this.write('keycheck', (s) => s.putMetaIfAbsent.run('keycheck', mine));
      // Another process may have won the race with a different key: verify what is stored.
      sealed = this.stmts().getMeta.pluck().get('keycheck') as Buffer;
    }
    try {
      const pt = openEnvelope(keys.keycheck, KEYCHECK_BINDING, new Uint8Array(sealed));
      if (!bytesEqual(pt, KEYCHECK_PLAINTEXT)) throw new Error('key check mismatch');
    } catch {
      wipe(...Object.values(keys));
      throw new NsekitError('STORE_WRONG_KEY', 'the master key does not match this store', { dbPath: this.opts.dbPath });
    }
    this.keys = keys;
    this.log('info', 'store unlocked');
  }

  lockDevice(): void {
    if (this.keys) wipe(...Object.values(this.keys));
    this.keys = null;
    this.log('info', 'store locked (keys wiped)');
  }

  /** Waits for in-flight writes, checkpoints (TRUNCATE) under the lock, closes. Keys stay as they were. */
  /**
   * Checkpoint and close. A second call while one is in progress waits for it: the connection
   * is detached before the checkpoint's lock wait, and a caller that returned then (a
   * suspension racing a shutdown) would report the store closed while its file is still open.
   */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose().finally(() => (this.closing = null));
    return this.closing;
  }
  private closing: Promise<void> | null = null;

  private async doClose(): Promise<void> {
    if (!this.db) return;
    while (this.inflight > 0) await new Promise<void>((res) => this.idle.push(res));
    const db = this.db;
    if (!db) return; // closed by another caller while this one waited for writes
    this.db = null;
    this.st = null;
    try {
      await this.opts.lock.acquire({ timeoutMs: this.lockTimeoutMs });
      try {
        db.pragma('wal_checkpoint(TRUNCATE)');
      } finally {
        await this.opts.lock.release({ wrote: false });
      }
    } catch (e) {
      // Not fatal: the WAL stays and is replayed by the next opener.
      this.log('warn', 'checkpoint skipped at close', { error: String(e) });
    }
    db.close();
    this.log('info', 'store closed');
  }

  onDirty(fn: () => void): () => void {
    this.dirtyFns.add(fn);
    return () => this.dirtyFns.delete(fn);
  }

  /** `PRAGMA synchronous` of this connection: 2 = FULL (default, power-cut safe), 1 = NORMAL. */
  synchronousLevel(): number {
    return this.stmts().db.pragma('synchronous', { simple: true }) as number;
  }

  integrityCheck(): string {
    const rows = this.stmts().db.pragma('integrity_check', { simple: false }) as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).join('\n');
  }

  // ---- Store interface ----
  putMessage(m: StoredMessage): Promise<boolean> {
    return this.write('putMessage', (s) => insertMessage(s, m, this.opts.host.clock.now()));
  }

  /** Rows plus `notified` ids (the pending inbox's markers) in one transaction; returns rows inserted. */
  putMessages(ms: StoredMessage[], notified: readonly string[] = []): Promise<number> {
    if (ms.length === 0 && notified.length === 0) return Promise.resolve(0);
    return this.write('putMessages', (s) => {
      const now = this.opts.host.clock.now();
      let n = 0;
      for (const m of ms) if (insertMessage(s, m, now)) n++;
      for (const id of notified) s.markNotified.run(id, now);
      return n;
    });
  }

  hasMessage(msgId: string): Promise<boolean> {
    return this.read(() => this.stmts().hasMessage.get(msgId) !== undefined);
  }

  markNotified(msgId: string): Promise<boolean> {
    return this.write('markNotified', (s) => s.markNotified.run(msgId, this.opts.host.clock.now()).changes === 1);
  }

  // ---- plaintext convenience (sealed with the at-rest body key) ----
  putPlainMessage(m: PlainMessage): Promise<boolean> {
    const key = this.bodyKey();
    const sealed = seal(key, this.opts.host.rng, bodyBinding(m), m.body);
    return this.putMessage({ msgId: m.msgId, queueId: m.queueId, ts: m.ts, flags: m.flags, sealed });
  }

  readMessage(msgId: string): Promise<PlainMessage | null> {
    return this.read(() => {
      const key = this.bodyKey(); // refuse even for a missing row: locked means no user-content reads
      const row = this.stmts().getMessage.get(msgId) as MessageRow | undefined;
      if (!row) return null;
      const body = openEnvelope(key, bodyBinding({ msgId: row.msg_id, queueId: row.queue_id }), row.sealed);
      return { msgId: row.msg_id, queueId: row.queue_id, ts: row.ts, flags: intToFlags(row.flags), body };
    });
  }

  /** The stored row as is (sealed), e.g. for forensics or re-export. */
  readSealed(msgId: string): Promise<StoredMessage | null> {
    return this.read(() => {
      const row = this.stmts().getMessage.get(msgId) as MessageRow | undefined;
      if (!row) return null;
      return { msgId: row.msg_id, queueId: row.queue_id, ts: row.ts, flags: intToFlags(row.flags), sealed: new Uint8Array(row.sealed) };
    });
  }

  listMessageIds(queueId?: string): Promise<string[]> {
    return this.read(() =>
      queueId === undefined
        ? (this.stmts().listIds.pluck().all() as string[])
        : (this.stmts().listIdsByQueue.pluck().all(queueId) as string[]),
    );
  }

  countMessages(): Promise<number> {
    return this.read(() => this.stmts().count.pluck().get() as number);
  }

  // ---- read state (docs/notifications.md "Unread") ----
  unreadCount(): Promise<number> {
    return this.read(() => this.stmts().unreadCount.pluck().get() as number);
  }

  isRead(msgId: string): Promise<boolean> {
    return this.read(() => this.stmts().isRead.pluck().get(msgId) === 1);
  }

  markThreadRead(queueId: string, upToTs?: number): Promise<string[]> {
    return this.write('markThreadRead', (s) => {
      if (upToTs !== undefined) {
        const ids = s.unreadIdsByQueueUpTo.pluck().all(queueId, upToTs) as string[];
        s.markQueueReadUpTo.run(this.opts.host.clock.now(), queueId, upToTs);
        return ids;
      }
      const ids = s.unreadIdsByQueue.pluck().all(queueId) as string[];
      s.markQueueRead.run(this.opts.host.clock.now(), queueId);
      return ids;
    });
  }

  unreadInThread(queueId: string): Promise<number> {
    return this.read(() => this.stmts().unreadByQueue.pluck().get(queueId) as number);
  }

  threadLastTs(queueId: string): Promise<number | null> {
    return this.read(() => (this.stmts().lastTsByQueue.pluck().get(queueId) as number | null) ?? null);
  }

  // ---- cursors, outbox ----
  getCursor(queueId: string): Promise<Cursor> {
    return this.read(() => {
      const r = this.stmts().getCursor.get(queueId) as { last_msg_id: string | null; last_ts: number } | undefined;
      return r ? { lastMsgId: r.last_msg_id, lastTs: r.last_ts } : { lastMsgId: null, lastTs: 0 };
    });
  }

  setCursor(queueId: string, c: Cursor): Promise<void> {
    return this.write('setCursor', (s) => void s.setCursor.run(queueId, c.lastMsgId, c.lastTs));
  }

  outboxAdd(item: { clientId: string; queueId: string; body: Uint8Array }): Promise<boolean> {
    return this.write(
      'outboxAdd',
      (s) => {
        const now = this.opts.host.clock.now();
        return s.outboxAdd.run(item.clientId, item.queueId, item.body, now, now).changes === 1;
      },
    );
  }

  /** Items still to send (neither sent nor failed), oldest first. */
  outboxPending(): Promise<OutboxItem[]> {
    return this.read(() => (this.stmts().outboxPending.all() as OutboxRow[]).map(outboxItem));
  }

  /** `sending` counts an attempt; `info.error` is kept as the item's `lastError` (the dead letter's reason). */
  outboxMark(clientId: string, state: Exclude<OutboxState, 'pending'>, info: { error?: string } = {}): Promise<void> {
    return this.write('outboxMark', (s) => {
      s.outboxMark.run(state, state === 'sending' ? 1 : 0, this.opts.host.clock.now(), info.error ?? null, clientId);
    });
  }

  /** Items in one state, oldest first (e.g. the dead letters: `failed`). */
  outboxList(state: OutboxState): Promise<OutboxItem[]> {
    return this.read(() => (this.stmts().outboxList.all(state) as OutboxRow[]).map(outboxItem));
  }

  /** Delete `sent` rows but the `keepSent` most recent; returns how many went. */
  outboxPrune(keepSent: number): Promise<number> {
    return this.write('outboxPrune', (s) => s.outboxPrune.run(Math.max(0, Math.floor(keepSent))).changes);
  }

  // ---- quarantine (docs/receive.md "Quarantine") ----
  /** Keep a message that can never be processed, sealed as received; true if new (a repeat bumps `attempts`). */
  quarantineAdd(e: QuarantineInput): Promise<boolean> {
    return this.write('quarantineAdd', (s) => {
      const now = this.opts.host.clock.now();
      const had = s.quarantineHas.get(e.msgId) !== undefined;
      s.quarantineUpsert.run(e.msgId, e.queueId, e.ts, flagsToInt(e.flags), e.sealed, e.reason, e.via, now, now);
      return !had;
    });
  }

  quarantineList(queueId?: string): Promise<QuarantineEntry[]> {
    return this.read(() => {
      const st = this.stmts();
      const rows = (queueId === undefined ? st.quarantineList.all() : st.quarantineListByQueue.all(queueId)) as QuarantineRow[];
      return rows.map((r) => ({
        msgId: r.msg_id,
        queueId: r.queue_id,
        ts: r.ts,
        flags: intToFlags(r.flags),
        sealed: new Uint8Array(r.sealed),
        reason: r.reason,
        via: r.via,
        attempts: r.attempts,
        firstAt: r.first_at,
        lastAt: r.last_at,
      }));
    });
  }

  quarantineRemove(msgId: string): Promise<boolean> {
    return this.write('quarantineRemove', (s) => s.quarantineRemove.run(msgId).changes === 1);
  }

  // ---- internals ----
  private stmts(): Statements {
    if (!this.st) throw new NsekitError('STORE_CLOSED', 'store is closed', { dbPath: this.opts.dbPath });
    return this.st;
  }

  private bodyKey(): Uint8Array {
    if (!this.keys) throw new NsekitError('STORE_LOCKED', 'store is locked: master key not in memory');
    return this.keys.body;
  }

  private read<T>(fn: () => T): Promise<T> {
    // SQLite errors leave typed (a damaged page is STORE_CORRUPT wherever it is met).
    const typed = (): T => {
      try {
        return fn();
      } catch (e) {
        throw toStoreError(e, this.opts.dbPath);
      }
    };
    if (this.gate === openGate) {
      try {
        return Promise.resolve(typed());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.gate.run('database', typed);
  }

  private write<T>(op: string, fn: (s: Statements) => T): Promise<T> {
    // Fast path: skip the gate's bracket when it can never block.
    return this.gate === openGate ? this.enqueue(op, fn) : this.gate.run('database', () => this.enqueue(op, fn));
  }

  /**
   * Group commit. A write joins the queue; if no group is running, one starts at once (no timer:
   * an uncontended write costs what it did before). A group is everything queued when the lock is
   * granted, so writes that arrive while a transaction (or the lock wait) is under way ride in the
   * next single transaction: one lock hold, one BEGIN IMMEDIATE … COMMIT, one sync. Each member
   * settles only after that COMMIT returned (and the lock was released), with its own result.
   */
  private enqueue<T>(op: string, fn: (s: Statements) => T): Promise<T> {
    try {
      this.stmts(); // fail fast with STORE_CLOSED before touching the lock
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
      while (this.queue.length > 0) await this.runGroup().catch((e) => this.log('error', 'group commit failed', { error: String(e) }));
    } finally {
      this.running = false;
    }
  }

  private async runGroup(): Promise<void> {
    const { lock, host } = this.opts;
    // A lock failure fails the writes that waited the whole time; later arrivals get a fresh acquire.
    const waited = this.queue.length;
    let grant;
    try {
      grant = await lock.acquire({ timeoutMs: this.lockTimeoutMs });
    } catch (e) {
      this.settle(this.queue.splice(0, waited), [], { e });
      return;
    }
    const group = this.queue.splice(0, this.maxGroup);
    const results: unknown[] = new Array(group.length);
    /** A member's own failure (its savepoint rolled back, the others commit). */
    const own: ({ e: unknown } | undefined)[] = new Array(group.length);
    let failure: { e: unknown } | null = null;
    let wrote = false;
    try {
      if (grant.dirty) for (const fn of this.dirtyFns) fn();
      const s = this.stmts();
      const op = group.length === 1 || group.every((m) => m.op === group[0]!.op) ? group[0]!.op : 'group';
      const fields = group.length === 1 ? { op } : { op, writes: group.length };
      s.begin.run();
      try {
        const fp1 = host.failpoints.hit('db.tx.begin', fields);
        if (fp1) await fp1;
        if (group.length === 1) results[0] = group[0]!.fn(s);
        else for (let i = 0; i < group.length; i++) this.runMember(s, group[i]!, i, results, own);
        const fp2 = host.failpoints.hit('db.tx.commit', fields);
        if (fp2) await fp2;
        s.commit.run();
        wrote = true;
      } catch (e) {
        if (s.db.inTransaction) s.rollback.run();
        if (!isNsekitError(e)) this.log('error', 'write failed', { op, writes: group.length, error: String(e) });
        throw toStoreError(e, this.opts.dbPath);
      }
    } catch (e) {
      failure = { e: toStoreError(e, this.opts.dbPath) };
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
      if (!isNsekitError(e)) this.log('error', 'write failed', { op: m.op, error: String(e) });
      own[i] = { e: toStoreError(e, this.opts.dbPath) };
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
    if (this.inflight === 0) for (const res of this.idle.splice(0)) res();
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.opts.host.log.log(level, 'store', msg, fields);
  }
}

interface Member {
  op: string;
  fn: (s: Statements) => unknown;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

function copyRing(r: KeyRing): KeyRing {
  return { body: r.body.slice(), inbox: r.inbox.slice(), notification: r.notification.slice(), keycheck: r.keycheck.slice(), outbox: r.outbox.slice() };
}

function bodyBinding(m: { msgId: string; queueId: string }) {
  return { kind: EnvelopeKind.messageBody, recordId: m.msgId, queueId: m.queueId };
}

function outboxItem(r: OutboxRow): OutboxItem {
  return {
    clientId: r.client_id,
    queueId: r.queue_id,
    body: new Uint8Array(r.sealed),
    state: r.state,
    attempts: r.attempts,
    updatedAt: r.updated_at,
    createdAt: r.created_at,
    lastError: r.last_error,
  };
}

function insertMessage(s: Statements, m: StoredMessage, now: number): boolean {
  return s.insertMessage.run(m.msgId, m.queueId, m.ts, flagsToInt(m.flags), m.sealed, now).changes === 1;
}
