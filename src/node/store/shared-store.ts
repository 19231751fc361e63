import type Database from 'better-sqlite3';
import { EnvelopeKind, deriveKeyRing, open as openEnvelope, seal, wipe } from '../../core/crypto/index.js';
import type { KeyRing } from '../../core/crypto/index.js';
import { NsekitError } from '../../core/errors.js';
import { utf8Encode, bytesEqual } from '../../core/bytes.js';
import type { Gate, Store, StoredMessage } from '../../core/host.js';
import { openGate } from '../../core/host.js';
import { openChecked, toStoreError } from './open-db.js';
import { migrate } from './schema.js';
import { GroupCommit } from './group-commit.js';
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
  /** Write transactions: one per group of the writes queued meanwhile (./group-commit.ts). */
  private readonly writer: GroupCommit;
  private readonly dirtyFns = new Set<() => void>();
  private readonly gate: Gate;
  private readonly lockTimeoutMs: number;

  constructor(private readonly opts: SharedStoreOptions) {
    this.gate = opts.gate ?? openGate;
    this.lockTimeoutMs = opts.lockTimeoutMs ?? 5000;
    this.writer = new GroupCommit({
      lock: opts.lock,
      failpoints: opts.host.failpoints,
      lockTimeoutMs: this.lockTimeoutMs,
      maxGroup: Math.max(1, opts.maxGroupWrites ?? 64),
      dbPath: opts.dbPath,
      stmts: () => this.stmts(),
      onDirty: () => {
        for (const fn of this.dirtyFns) fn();
      },
      log: (level, msg, fields) => this.log(level, msg, fields),
    });
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
    await this.writer.idle();
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
    return this.gate === openGate ? this.writer.enqueue(op, fn) : this.gate.run('database', () => this.writer.enqueue(op, fn));
  }

  private log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.opts.host.log.log(level, 'store', msg, fields);
  }
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
