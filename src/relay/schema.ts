import type Database from 'better-sqlite3';

/**
 * The relay database schema as numbered migrations (PRAGMA user_version).
 * Opening a file applies every step above its version in one transaction, so
 * an existing relay keeps its queues, messages and pending notifications.
 */

// Version 1: the original schema. Idempotent (IF NOT EXISTS), so files made
// before user_version was used pass through it unchanged.
const SCHEMA_V1 = `
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
`;

// Version 2: idempotent SEND. One row per (queue, clientId) remembered for the
// dedupe window; the message itself may be long ACKed and gone.
const SCHEMA_V2 = `
CREATE TABLE IF NOT EXISTS send_dedupe (
  queue_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  msg_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  UNIQUE (queue_id, client_id)
);
CREATE INDEX IF NOT EXISTS send_dedupe_by_age ON send_dedupe (created_at);
`;

// Version 3: the push-token lifecycle (docs/protocol.md "Push tokens"): who registered the
// queue's token (platform, app version), when it was last registered, and whether it is
// active (a logout deactivates it; the relay then stops pushing for the queue). And fan-out
// groups (docs/protocol.md "Fan-out to a user's devices"): a group address over member queues.
const SCHEMA_V3 = `
ALTER TABLE queues ADD COLUMN token_platform TEXT;
ALTER TABLE queues ADD COLUMN token_app_version TEXT;
ALTER TABLE queues ADD COLUMN token_seen_at INTEGER;
ALTER TABLE queues ADD COLUMN token_active INTEGER NOT NULL DEFAULT 1;
CREATE TABLE IF NOT EXISTS groups (
  group_id TEXT PRIMARY KEY,
  group_cred_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS group_members (
  group_id TEXT NOT NULL,
  queue_id TEXT NOT NULL,
  UNIQUE (group_id, queue_id)
);
`;

/** Applied in order to a file whose user_version is lower. Never edit a shipped step; add one. */
const MIGRATIONS: ReadonlyArray<{ version: number; sql: string }> = [
  { version: 1, sql: SCHEMA_V1 },
  { version: 2, sql: SCHEMA_V2 },
  { version: 3, sql: SCHEMA_V3 },
];
export const RELAY_SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;

export function migrate(db: Database.Database): void {
  db.transaction(() => {
    const from = db.pragma('user_version', { simple: true }) as number;
    for (const m of MIGRATIONS) {
      if (m.version <= from) continue;
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    }
  }).immediate();
}

