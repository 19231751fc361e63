import type Database from 'better-sqlite3';

/** Prepared once per connection: re-preparing per call costs more than the insert itself. */
export class Statements {
  readonly begin;
  readonly commit;
  readonly rollback;
  readonly savepoint;
  readonly releaseSavepoint;
  readonly rollbackToSavepoint;
  readonly insertMessage;
  readonly hasMessage;
  readonly getMessage;
  readonly listIds;
  readonly listIdsByQueue;
  readonly count;
  readonly markNotified;
  readonly getMeta;
  readonly putMetaIfAbsent;
  readonly getCursor;
  readonly setCursor;
  readonly outboxAdd;
  readonly outboxPending;
  readonly outboxMark;
  readonly outboxList;
  readonly outboxPrune;
  readonly quarantineHas;
  readonly quarantineUpsert;
  readonly quarantineList;
  readonly quarantineListByQueue;
  readonly quarantineRemove;
  readonly unreadCount;
  readonly isRead;
  readonly unreadIdsByQueue;
  readonly markQueueRead;
  readonly unreadIdsByQueueUpTo;
  readonly markQueueReadUpTo;
  readonly lastTsByQueue;
  readonly unreadByQueue;

  constructor(readonly db: Database.Database) {
    this.begin = db.prepare('BEGIN IMMEDIATE');
    this.commit = db.prepare('COMMIT');
    this.rollback = db.prepare('ROLLBACK');
    // One member of a group-commit transaction (SharedStore.runGroup): its failure is rolled back alone.
    this.savepoint = db.prepare('SAVEPOINT member');
    this.releaseSavepoint = db.prepare('RELEASE member');
    this.rollbackToSavepoint = db.prepare('ROLLBACK TO member');
    this.insertMessage = db.prepare(
      'INSERT OR IGNORE INTO messages (msg_id, queue_id, ts, flags, sealed, stored_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.hasMessage = db.prepare('SELECT 1 FROM messages WHERE msg_id = ?');
    this.getMessage = db.prepare('SELECT msg_id, queue_id, ts, flags, sealed FROM messages WHERE msg_id = ?');
    this.listIds = db.prepare('SELECT msg_id FROM messages ORDER BY id');
    this.listIdsByQueue = db.prepare('SELECT msg_id FROM messages WHERE queue_id = ? ORDER BY id');
    this.count = db.prepare('SELECT count(*) FROM messages');
    this.markNotified = db.prepare('INSERT OR IGNORE INTO notifications (msg_id, shown_at) VALUES (?, ?)');
    this.getMeta = db.prepare('SELECT value FROM meta WHERE key = ?');
    this.putMetaIfAbsent = db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)');
    this.getCursor = db.prepare('SELECT last_msg_id, last_ts FROM cursors WHERE queue_id = ?');
    this.setCursor = db.prepare(
      'INSERT INTO cursors (queue_id, last_msg_id, last_ts) VALUES (?, ?, ?) ' +
        'ON CONFLICT(queue_id) DO UPDATE SET last_msg_id = excluded.last_msg_id, last_ts = excluded.last_ts',
    );
    this.outboxAdd = db.prepare(
      "INSERT OR IGNORE INTO outbox (client_id, queue_id, sealed, state, attempts, updated_at, created_at) VALUES (?, ?, ?, 'pending', 0, ?, ?)",
    );
    const outboxCols = 'client_id, queue_id, sealed, state, attempts, updated_at, created_at, last_error';
    this.outboxPending = db.prepare(`SELECT ${outboxCols} FROM outbox WHERE state NOT IN ('sent', 'failed') ORDER BY rowid`);
    this.outboxMark = db.prepare(
      'UPDATE outbox SET state = ?, attempts = attempts + ?, updated_at = ?, last_error = COALESCE(?, last_error) WHERE client_id = ?',
    );
    this.outboxList = db.prepare(`SELECT ${outboxCols} FROM outbox WHERE state = ? ORDER BY rowid`);
    // The `keep` most recent sent rows stay (idempotent enqueue of a recent id, "sent" in the UI).
    this.outboxPrune = db.prepare(
      "DELETE FROM outbox WHERE state = 'sent' AND rowid NOT IN (SELECT rowid FROM outbox WHERE state = 'sent' ORDER BY updated_at DESC, rowid DESC LIMIT ?)",
    );
    this.quarantineHas = db.prepare('SELECT 1 FROM quarantine WHERE msg_id = ?');
    this.quarantineUpsert = db.prepare(
      'INSERT INTO quarantine (msg_id, queue_id, ts, flags, sealed, reason, via, attempts, first_at, last_at) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?, ?) ' +
        'ON CONFLICT(msg_id) DO UPDATE SET attempts = attempts + 1, reason = excluded.reason, via = excluded.via, last_at = excluded.last_at',
    );
    const qCols = 'msg_id, queue_id, ts, flags, sealed, reason, via, attempts, first_at, last_at';
    this.quarantineList = db.prepare(`SELECT ${qCols} FROM quarantine ORDER BY first_at, rowid`);
    this.quarantineListByQueue = db.prepare(`SELECT ${qCols} FROM quarantine WHERE queue_id = ? ORDER BY first_at, rowid`);
    this.quarantineRemove = db.prepare('DELETE FROM quarantine WHERE msg_id = ?');
    // Read state (docs/notifications.md "Unread"): flags bit 1 is the notification flag.
    this.unreadCount = db.prepare('SELECT count(*) FROM messages WHERE read_at IS NULL AND (flags & 1) = 1');
    this.isRead = db.prepare('SELECT read_at IS NOT NULL FROM messages WHERE msg_id = ?');
    this.unreadIdsByQueue = db.prepare('SELECT msg_id FROM messages WHERE queue_id = ? AND read_at IS NULL ORDER BY id');
    this.markQueueRead = db.prepare('UPDATE messages SET read_at = ? WHERE queue_id = ? AND read_at IS NULL');
    // A read on another device reaches up to a relay ts (docs/notifications.md "Read on another device").
    this.unreadIdsByQueueUpTo = db.prepare('SELECT msg_id FROM messages WHERE queue_id = ? AND read_at IS NULL AND ts <= ? ORDER BY id');
    this.markQueueReadUpTo = db.prepare('UPDATE messages SET read_at = ? WHERE queue_id = ? AND read_at IS NULL AND ts <= ?');
    this.lastTsByQueue = db.prepare('SELECT max(ts) FROM messages WHERE queue_id = ?');
    this.unreadByQueue = db.prepare('SELECT count(*) FROM messages WHERE queue_id = ? AND read_at IS NULL AND (flags & 1) = 1');
  }
}
