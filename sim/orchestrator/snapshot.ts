import Database from 'better-sqlite3';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex } from '../../src/core/bytes.js';
import { deriveKey, EnvelopeKind, open } from '../../src/core/crypto/index.js';
import { SHARED_FILES } from '../../src/device/ipc.js';
import { readInbox } from '../../src/node/pending-inbox/index.js';
import { contentRows } from '../history/content-snapshot.js';
import type { HistoryRecorder } from '../history/index.js';
import type { SentMessage } from './engine.js';

/**
 * The final snapshots, taken after the processes have exited: the store rows
 * (each opened with the body key — checked, never printed), the pending inbox
 * (live file and any claimed leftovers), the relay's queue, `integrity_check`,
 * and a raw-byte scan of every at-rest file for the senders' plaintext markers.
 */
export function takeSnapshots(h: HistoryRecorder, o: { sharedDir: string; masterKey: string; relayDb: string; sent: SentMessage[]; queueIds: string[]; syncQueueId?: string | undefined }): void {
  const dbPath = join(o.sharedDir, SHARED_FILES.db);
  const bodyKey = deriveKey(fromHex(o.masterKey)!, 'body');
  const inboxFiles = existsSync(o.sharedDir) ? readdirSync(o.sharedDir).filter((f) => f.startsWith(SHARED_FILES.inbox)).map((f) => join(o.sharedDir, f)) : [];
  const inboxIds = inboxFiles.flatMap((f) => readInbox(f).records.map((r) => r.msgId));

  h.invoke('orchestrator', 'store.snapshot', {});
  if (!existsSync(dbPath)) {
    h.ok('orchestrator', 'store.snapshot', { msgIds: [], inbox: { msgIds: inboxIds }, note: 'no store file' });
  } else {
    let db: Database.Database | null = null;
    try {
      db = new Database(dbPath, { readonly: true, fileMustExist: true });
      const rows = db.prepare('SELECT msg_id, queue_id, sealed, flags, read_at FROM messages ORDER BY id').all() as { msg_id: string; queue_id: string; sealed: Buffer; flags: number; read_at: number | null }[];
      const undecryptable: string[] = [];
      for (const r of rows) {
        try {
          open(bodyKey, { kind: EnvelopeKind.messageBody, recordId: r.msg_id, queueId: r.queue_id }, new Uint8Array(r.sealed)).fill(0);
        } catch {
          undecryptable.push(r.msg_id);
        }
      }
      const notified = (db.prepare('SELECT COUNT(*) AS n FROM notifications').get() as { n: number }).n;
      // The badge's count (docs/notifications.md "Unread"): flagged rows not read.
      const unread = (db.prepare('SELECT COUNT(*) AS n FROM messages WHERE read_at IS NULL AND (flags & 1) = 1').get() as { n: number }).n;
      // The quarantine (schema 2): messages kept sealed as received because they never open.
      const hasQuarantine = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'quarantine'").get() !== undefined;
      const quarantine = hasQuarantine ? (db.prepare('SELECT msg_id FROM quarantine').all() as { msg_id: string }[]).map((r) => r.msg_id) : [];
      const content = contentRows(rows.map((r) => ({ msgId: r.msg_id, queueId: r.queue_id, sealed: new Uint8Array(r.sealed), notification: (r.flags & 1) === 1, read: r.read_at !== null, deviceSync: r.queue_id === o.syncQueueId })), bodyKey);
      h.ok('orchestrator', 'store.snapshot', { msgIds: rows.map((r) => r.msg_id), undecryptable, notifiedRows: notified, unread, inbox: { msgIds: inboxIds, files: inboxFiles.length }, content, quarantine });
      h.invoke('orchestrator', 'integrity', {});
      const res = (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; ');
      h.ok('orchestrator', 'integrity', { result: res });
    } catch (e) {
      h.fail('orchestrator', 'store.snapshot', (e as Error).message, {});
      h.fail('orchestrator', 'integrity', (e as Error).message, {});
    } finally {
      db?.close();
    }
  }

  h.invoke('orchestrator', 'relay.snapshot', {});
  try {
    const rdb = new Database(o.relayDb, { readonly: true, fileMustExist: true });
    try {
      const ids = new Set(o.queueIds);
      const rows = (rdb.prepare('SELECT queue_id, msg_id FROM messages ORDER BY seq').all() as { queue_id: string; msg_id: string }[]).filter((r) => ids.has(r.queue_id));
      const pending = (rdb.prepare('SELECT COUNT(*) AS n FROM pending_ntfs').get() as { n: number }).n;
      h.ok('orchestrator', 'relay.snapshot', { queued: rows.map((r) => ({ queueId: r.queue_id, msgId: r.msg_id })), pendingNotifications: pending });
    } finally {
      rdb.close();
    }
  } catch (e) {
    h.fail('orchestrator', 'relay.snapshot', (e as Error).message, {});
  }

  // Plaintext at rest: the markers the senders put in each message, searched byte for byte.
  const files = [dbPath, `${dbPath}-wal`, `${dbPath}-journal`, ...inboxFiles].filter((f) => existsSync(f));
  h.invoke('orchestrator', 'plaintext.scan', { files: files.length });
  const found: { file: string; label: string }[] = [];
  for (const f of files) {
    const buf = readFileSync(f);
    for (const m of o.sent) if (buf.includes(m.marker)) found.push({ file: f.slice(o.sharedDir.length + 1), label: m.label });
  }
  h.ok('orchestrator', 'plaintext.scan', { files: files.length, found });
}
