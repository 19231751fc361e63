import Database from 'better-sqlite3';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesEqual, utf8Encode } from '../core/bytes.js';
import { NsekitError } from '../core/errors.js';
import { migrate } from './schema.js';

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
  /** False after a logout (NDEL): no notification is stored or pushed for the queue. */
  tokenActive: boolean;
  tokenPlatform: string | null;
  tokenAppVersion: string | null;
  tokenSeenAt: number | null;
}

/** What an NSUB records with the token (docs/protocol.md "Push tokens"). */
export interface TokenMeta {
  platform: string | null;
  appVersion: string | null;
  now: number;
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

/** What storing a SEND did: a new message, or the original one of a repeated clientId. */
export interface SendResult {
  msgId: string;
  duplicate: boolean;
}

/** Dedupe parameters of a SEND with a clientId (see docs/protocol.md "Idempotent SEND"). */
export interface SendDedupeArgs {
  clientId: string;
  now: number;
  windowMs: number;
  cleanupBatch: number;
}

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
    tokenActive: (r.token_active as number | null) !== 0,
    tokenPlatform: (r.token_platform as string | null) ?? null,
    tokenAppVersion: (r.token_app_version as string | null) ?? null,
    tokenSeenAt: (r.token_seen_at as number | null) ?? null,
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
    setNotifier: p(
      `UPDATE queues SET notifier_id = ?, notifier_key = ?, device_token = ?, token_platform = ?, token_app_version = ?, token_seen_at = ?, token_active = 1 WHERE queue_id = ?`,
    ),
    moveNtfs: p(`UPDATE pending_ntfs SET token = ? WHERE queue_id = ? AND token = ?`),
    deactivate: p(`UPDATE queues SET token_active = 0 WHERE queue_id = ?`),
    delNtfQueue: p(`DELETE FROM pending_ntfs WHERE queue_id = ?`),
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
    getSent: p(`SELECT msg_id, created_at FROM send_dedupe WHERE queue_id = ? AND client_id = ?`),
    // REPLACE: an expired row not yet cleaned up gives way to the new SEND.
    putSent: p(`INSERT OR REPLACE INTO send_dedupe (queue_id, client_id, msg_id, created_at) VALUES (?, ?, ?, ?)`),
    expireSent: p(`DELETE FROM send_dedupe WHERE rowid IN (SELECT rowid FROM send_dedupe WHERE created_at <= ? ORDER BY created_at LIMIT ?)`),
    countSent: p(`SELECT COUNT(*) AS n FROM send_dedupe`),
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
    migrate(this.db);
    this.st = prepareAll(this.db);
    this.lastTs = (this.db.prepare('SELECT MAX(ts) AS ts FROM messages').get() as { ts: number | null }).ts ?? 0;
  }

  /** The newest message ts handed out (./connection.ts, ./groups.ts). */
  private lastTs: number;

  /**
   * The ts of the next stored message (one SEND, or every copy of one GSEND): the clock reading,
   * but always after the previous one. Two sends within one millisecond must not share a ts: a
   * read marker says "read up to ts T" (docs/notifications.md "Read on another device"), and a tie
   * would let it cover a message the reading device never had. After a restart it starts past the
   * newest message still queued, and the clock has moved on meanwhile.
   */
  nextTs(now: number): number {
    this.lastTs = Math.max(Math.floor(now), this.lastTs + 1);
    return this.lastTs;
  }

  createQueue(q: { queueId: string; recipientCred: string; senderCred: string; recipientKey: Uint8Array | null; now: number }): void {
    this.st.insQueue.run(q.queueId, credHash(q.recipientCred), credHash(q.senderCred), q.recipientKey, q.now);
  }

  getQueue(queueId: string): QueueRow | undefined {
    const r = this.st.getQueue.get(queueId) as Row | undefined;
    return r ? toQueue(r) : undefined;
  }

  /**
   * Record the queue's notifier and (re)activate its token. A changed token takes over the
   * notifications still pending for the old one on this queue (a push in flight when the
   * token changed is then pushed to the new token); returns how many moved.
   */
  setNotifier(queueId: string, notifierId: string, notifierKey: Uint8Array, deviceToken: string, meta: TokenMeta = { platform: null, appVersion: null, now: 0 }): number {
    return this.db.transaction(() => {
      const old = this.getQueue(queueId)?.deviceToken ?? null;
      this.st.setNotifier.run(notifierId, notifierKey, deviceToken, meta.platform, meta.appVersion, meta.now, queueId);
      return old !== null && old !== deviceToken ? this.st.moveNtfs.run(deviceToken, queueId, old).changes : 0;
    })();
  }

  /** Logout (NDEL): the queue's token stays recorded but inactive; its pending notifications go. Returns how many. */
  deactivateToken(queueId: string): number {
    return this.db.transaction(() => {
      this.st.deactivate.run(queueId);
      return this.st.delNtfQueue.run(queueId).changes;
    })();
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

  /**
   * Store one SEND in a single transaction: the dedupe lookup, the queue quota
   * (PROTO_QUOTA), the message, its pending notification and the dedupe entry
   * commit together. A clientId seen on this queue within the window returns
   * the original msgId with `duplicate: true` and stores nothing — even if the
   * body differs (the first SEND wins) or the original was already ACKed.
   * `build` runs only when a message is really stored.
   */
  storeSend(
    queueId: string,
    maxMessages: number,
    dedupe: SendDedupeArgs | undefined,
    build: () => { msg: MsgRow; ntf?: Omit<PendingNtf, 'seq'> | undefined },
  ): SendResult {
    return this.db.transaction((): SendResult => {
      if (dedupe) {
        const prior = this.st.getSent.get(queueId, dedupe.clientId) as { msg_id: string; created_at: number } | undefined;
        if (prior && prior.created_at > dedupe.now - dedupe.windowMs) return { msgId: prior.msg_id, duplicate: true };
      }
      if (this.countMessages(queueId) >= maxMessages) throw new NsekitError('PROTO_QUOTA', `queue holds ${maxMessages} messages`);
      const { msg: m, ntf } = build();
      // Through the method (a nested savepoint): the simulator's relay tap wraps it.
      this.insertMessage(m, ntf);
      if (dedupe) {
        this.st.putSent.run(queueId, dedupe.clientId, m.msgId, dedupe.now);
        // Bounded: each remembered SEND removes up to `cleanupBatch` expired ones.
        this.st.expireSent.run(dedupe.now - dedupe.windowMs, dedupe.cleanupBatch);
      }
      return { msgId: m.msgId, duplicate: false };
    })();
  }

  /** Delete expired dedupe entries in batches (at most `maxBatches`); returns how many went. */
  sweepSendDedupe(expireAtOrBefore: number, batch: number, maxBatches: number): number {
    let total = 0;
    for (let i = 0; i < maxBatches; i++) {
      const n = this.st.expireSent.run(expireAtOrBefore, batch).changes;
      total += n;
      if (n < batch) break;
    }
    return total;
  }

  sendDedupeCount(): number {
    return (this.st.countSent.get() as { n: number }).n;
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

  /** Run `fn` in one transaction (nested calls, e.g. storeSend, become savepoints inside it). */
  atomically<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  /** A prepared statement, cached per SQL text (for the relay's other tables: ./groups.ts). */
  statement(sql: string): Database.Statement {
    let st = this.extra.get(sql);
    if (!st) this.extra.set(sql, (st = this.db.prepare(sql)));
    return st;
  }
  private readonly extra = new Map<string, Database.Statement>();

  close(): void {
    if (this.db.open) this.db.close();
  }
}
