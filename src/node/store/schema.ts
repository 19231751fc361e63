import type Database from 'better-sqlite3';
import { NsekitError } from '../../core/errors.js';

/**
 * Schema migrations, keyed by the `PRAGMA user_version` they produce. Append
 * only: a shipped migration is never edited, a change is a new entry.
 * Every column that could hold user content is a sealed envelope (BLOB).
 */
export const MIGRATIONS: readonly string[] = [
  // 1: initial schema (docs/store.md "Schema")
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB);
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    msg_id TEXT UNIQUE NOT NULL,
    queue_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    stored_at INTEGER NOT NULL
  );
  CREATE INDEX messages_queue ON messages(queue_id, ts);
  CREATE TABLE cursors (queue_id TEXT PRIMARY KEY, last_msg_id TEXT, last_ts INTEGER NOT NULL DEFAULT 0);
  CREATE TABLE outbox (
    client_id TEXT PRIMARY KEY,
    queue_id TEXT NOT NULL,
    sealed BLOB NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending','sending','sent','failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL
  );
  CREATE TABLE notifications (msg_id TEXT PRIMARY KEY, shown_at INTEGER NOT NULL);
  `,
  // 2: outbox dead letters and age (docs/processes.md "Outbox"), inbound quarantine (docs/receive.md "Quarantine")
  `
  ALTER TABLE outbox ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE outbox ADD COLUMN last_error TEXT;
  UPDATE outbox SET created_at = updated_at;
  CREATE INDEX outbox_state ON outbox(state, updated_at);
  CREATE TABLE quarantine (
    msg_id TEXT PRIMARY KEY,
    queue_id TEXT NOT NULL,
    ts INTEGER NOT NULL,
    flags INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    reason TEXT NOT NULL,
    via TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL
  );
  CREATE INDEX quarantine_queue ON quarantine(queue_id, first_at);
  `,
  // 3: read state (docs/notifications.md "Unread"): NULL = not read; the badge counts flagged unread rows
  `
  ALTER TABLE messages ADD COLUMN read_at INTEGER;
  CREATE INDEX messages_unread ON messages(queue_id) WHERE read_at IS NULL;
  `,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

/**
 * Brings the schema to SCHEMA_VERSION. Runs in one BEGIN IMMEDIATE so two
 * processes opening a fresh file at once serialize on SQLite's own write lock
 * (busy_timeout) and the loser sees the new user_version inside its tx.
 */
export function migrate(db: Database.Database, dbPath: string): number {
  const current = () => db.pragma('user_version', { simple: true }) as number;
  if (current() > SCHEMA_VERSION) {
    throw new NsekitError('STORE_SCHEMA_TOO_NEW', `schema ${current()} is newer than supported ${SCHEMA_VERSION}`, {
      dbPath,
    });
  }
  if (current() === SCHEMA_VERSION) return SCHEMA_VERSION;
  db.exec('BEGIN IMMEDIATE');
  try {
    for (let v = current(); v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
    db.exec('COMMIT');
  } catch (e) {
    if (db.inTransaction) db.exec('ROLLBACK');
    throw e;
  }
  return SCHEMA_VERSION;
}
