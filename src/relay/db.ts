import Database from 'better-sqlite3';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, utf8Encode } from '../core/bytes.js';

/**
 * The relay's own persistent SQLite (separate from any device store): queues,
 * messages and pending notifications. WAL + synchronous=NORMAL: a committed
 * SEND survives a relay crash (not a power cut). Credentials are stored only as
 * SHA-256 hashes so a copied relay DB cannot be used to read or send.
 */

export interface QueueRow {
  queueId: string;
  recipientCredHash: Uint8Array;
  senderCredHash: Uint8Array;
  recipientKey: Uint8Array | null;
  notifierId: string | null;
  notifierKey: Uint8Array | null;
  deviceToken: string | null;
}

export interface MsgRow {
  msgId: string;
  queueId: string;
  ts: number;
  notification: boolean;
  body: Uint8Array;
}

export interface PendingNtf {
  seq: number;
  token: string;
  queueId: string;
  msgId: string;
  notifierId: string;
  sealed: Uint8Array;
  createdAt: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS queues (
  queue_id TEXT PRIMARY KEY,
  recipient_cred_hash BLOB NOT NULL,
  sender_cred_hash BLOB NOT NULL,
  recipient_key BLOB,
  notifier_id TEXT UNIQUE,
  notifier_key BLOB,
  device_token TEXT,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  msg_id TEXT NOT NULL UNIQUE,
  queue_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  flags INTEGER NOT NULL,
  body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_queue ON messages (queue_id, seq);
CREATE TABLE IF NOT EXISTS pending_ntfs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  token TEXT NOT NULL,
  queue_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  notifier_id TEXT NOT NULL,
  sealed BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_by_token ON pending_ntfs (token, seq);
PRAGMA user_version = 1;
`;

const FLAG_NOTIFICATION = 1;

export function credHash(cred: string): Uint8Array {
  return sha256(utf8Encode(cred));
}

/** Constant-time check of a presented credential against the stored hash. */
export function credMatches(cred: string, hash: Uint8Array): boolean {
  return bytesEqual(credHash(cred), hash);
}

type Row = Record<string, unknown>;
const u8 = (v: unknown): Uint8Array => new Uint8Array(v as Buffer);

function toQueue(r: Row): QueueRow {
  return {
    queueId: r.queue_id as string,
    recipientCredHash: u8(r.recipient_cred_hash),
    senderCredHash: u8(r.sender_cred_hash),
    recipientKey: r.recipient_key ? u8(r.recipient_key) : null,
    notifierId: (r.notifier_id as string | null) ?? null,
    notifierKey: r.notifier_key ? u8(r.notifier_key) : null,
    deviceToken: (r.device_token as string | null) ?? null,
  };
}

function toMsg(r: Row): MsgRow {
  return {
    msgId: r.msg_id as string,
    queueId: r.queue_id as string,
    ts: r.ts as number,
    notification: ((r.flags as number) & FLAG_NOTIFICATION) !== 0,
    body: u8(r.body),
  };
}

function toNtf(r: Row): PendingNtf {
  return {
    seq: r.seq as number,
    token: r.token as string,
    queueId: r.queue_id as string,
    msgId: r.msg_id as string,
    notifierId: r.notifier_id as string,
    sealed: u8(r.sealed),
    createdAt: r.created_at as number,
  };
}

function prepareAll(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    insQueue: p(`INSERT INTO queues (queue_id, recipient_cred_hash, sender_cred_hash, recipient_key, created_at) VALUES (?, ?, ?, ?, ?)`),
    getQueue: p(`SELECT * FROM queues WHERE queue_id = ?`),
    setNotifier: p(`UPDATE queues SET notifier_id = ?, notifier_key = ?, device_token = ? WHERE queue_id = ?`),
    clearToken: p(`UPDATE queues SET device_token = NULL WHERE device_token = ?`),
    first: p(`SELECT * FROM messages WHERE queue_id = ? ORDER BY seq LIMIT 1`),
    count: p(`SELECT COUNT(*) AS n FROM messages WHERE queue_id = ?`),
    insMsg: p(`INSERT INTO messages (msg_id, queue_id, ts, flags, body) VALUES (?, ?, ?, ?, ?)`),
    delMsg: p(`DELETE FROM messages WHERE queue_id = ? AND msg_id = ?`),
    insNtf: p(`INSERT INTO pending_ntfs (token, queue_id, msg_id, notifier_id, sealed, created_at) VALUES (?, ?, ?, ?, ?, ?)`),
    tokens: p(`SELECT DISTINCT token FROM pending_ntfs`),
    pendingFor: p(`SELECT * FROM pending_ntfs WHERE token = ? ORDER BY seq LIMIT ?`),
    delNtf: p(`DELETE FROM pending_ntfs WHERE seq = ?`),
    // A message already ACKed needs no wake-up: its notification is dropped.
    delNtfGone: p(`DELETE FROM pending_ntfs WHERE token = ? AND msg_id NOT IN (SELECT msg_id FROM messages)`),
    expire: p(`DELETE FROM pending_ntfs WHERE created_at < ?`),
    delNtfToken: p(`DELETE FROM pending_ntfs WHERE token = ?`),
    countNtf: p(`SELECT COUNT(*) AS n FROM pending_ntfs`),
  };
}

export class RelayDb {
  private readonly db: Database.Database;
  private readonly st: ReturnType<typeof prepareAll>;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.st = prepareAll(this.db);
  }

  createQueue(q: { queueId: string; recipientCred: string; senderCred: string; recipientKey: Uint8Array | null; now: number }): void {
    this.st.insQueue.run(q.queueId, credHash(q.recipientCred), credHash(q.senderCred), q.recipientKey, q.now);
  }

  getQueue(queueId: string): QueueRow | undefined {
    const r = this.st.getQueue.get(queueId) as Row | undefined;
    return r ? toQueue(r) : undefined;
  }

  setNotifier(queueId: string, notifierId: string, notifierKey: Uint8Array, deviceToken: string): void {
    this.st.setNotifier.run(notifierId, notifierKey, deviceToken, queueId);
  }

  /** The device reported the token invalid: no queue notifies it any more. */
  clearToken(token: string): void {
    this.st.clearToken.run(token);
  }

  firstMessage(queueId: string): MsgRow | undefined {
    const r = this.st.first.get(queueId) as Row | undefined;
    return r ? toMsg(r) : undefined;
  }

  countMessages(queueId: string): number {
    return (this.st.count.get(queueId) as { n: number }).n;
  }

  /** Message and its pending notification commit together, or neither does. */
  insertMessage(m: MsgRow, ntf?: Omit<PendingNtf, 'seq'>): void {
    this.db.transaction(() => {
      this.st.insMsg.run(m.msgId, m.queueId, m.ts, m.notification ? FLAG_NOTIFICATION : 0, m.body);
      if (ntf) this.st.insNtf.run(ntf.token, ntf.queueId, ntf.msgId, ntf.notifierId, ntf.sealed, ntf.createdAt);
    })();
  }

  deleteMessage(queueId: string, msgId: string): boolean {
    return this.st.delMsg.run(queueId, msgId).changes > 0;
  }

  pendingTokens(): string[] {
    return (this.st.tokens.all() as Row[]).map((r) => r.token as string);
  }

  /** Oldest pending notifications for `token`, after dropping expired and already-ACKed ones. */
  takePending(token: string, limit: number, expireBefore: number): { rows: PendingNtf[]; expired: number } {
    return this.db.transaction(() => {
      const expired = this.st.expire.run(expireBefore).changes;
      this.st.delNtfGone.run(token);
      return { rows: (this.st.pendingFor.all(token, limit) as Row[]).map(toNtf), expired };
    })();
  }

  deletePending(seqs: number[]): void {
    this.db.transaction(() => {
      for (const s of seqs) this.st.delNtf.run(s);
    })();
  }

  dropPendingForToken(token: string): number {
    return this.st.delNtfToken.run(token).changes;
  }

  pendingCount(): number {
    return (this.st.countNtf.get() as { n: number }).n;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
