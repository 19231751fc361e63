/**
 * The Node store's read state (schema 3, docs/notifications.md "Unread"): the badge counts stored
 * messages with the notification flag whose conversation was not opened since; opening one (a tap)
 * marks every message of its queue stored so far read — including a store written by schema 2.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Host, Lock, LockGrant } from '../../src/core/host.js';
import { noFailpoints } from '../../src/core/host.js';
import { nodeRng, silentLog } from '../../src/node/host.js';
import { MIGRATIONS, SCHEMA_VERSION, SharedStore } from '../../src/node/store/index.js';

class MemLock implements Lock {
  held = false;
  async acquire(): Promise<LockGrant> {
    this.held = true;
    return { generation: 0, dirty: false };
  }
  async release(): Promise<void> {
    this.held = false;
  }
}
const host: Host = { clock: { now: () => 5_000, setTimer: () => 0, clearTimer: () => {} }, rng: nodeRng, log: silentLog, failpoints: noFailpoints };

let dir: string;
let stores: SharedStore[];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsekit-store3-'));
  stores = [];
});
afterEach(async () => {
  for (const s of stores) await s.close().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
});
function mk(): SharedStore {
  const s = new SharedStore({ dbPath: path.join(dir, 'store.db'), lock: new MemLock(), host });
  stores.push(s);
  s.open();
  return s;
}
const put = (s: SharedStore, msgId: string, queueId: string, notification = true) => s.putMessage({ msgId, queueId, ts: 1, flags: { notification }, sealed: new Uint8Array([1, 2, 3]) });

describe('read state (schema 3)', () => {
  it('a read on another device reaches up to a relay ts: later messages stay unread; threadLastTs is the largest stored ts', async () => {
    const s = mk();
    expect(await s.threadLastTs('qa')).toBe(null);
    for (const [id, ts] of [['a1', 10], ['a2', 20], ['a3', 30]] as const) await s.putMessage({ msgId: id, queueId: 'qa', ts, flags: { notification: true }, sealed: new Uint8Array([1]) });
    await s.putMessage({ msgId: 'b1', queueId: 'qb', ts: 15, flags: { notification: true }, sealed: new Uint8Array([1]) });
    expect(await s.threadLastTs('qa')).toBe(30);
    expect(await s.markThreadRead('qa', 20)).toEqual(['a1', 'a2']);
    expect(await s.unreadCount()).toBe(2);
    expect(await s.isRead('a3')).toBe(false);
    expect(await s.isRead('b1')).toBe(false);
    expect(await s.markThreadRead('qa', 20)).toEqual([]);
    // Per conversation (a window's banner check): qa has a3 unread, qb has b1.
    expect([await s.unreadInThread('qa'), await s.unreadInThread('qb'), await s.unreadInThread('qz')]).toEqual([1, 1, 0]);
  });

  it('unread counts flagged messages not read; opening a thread reads every message of its queue stored so far', async () => {
    const s = mk();
    await put(s, 'a1', 'qa');
    await put(s, 'a2', 'qa');
    await put(s, 'a3', 'qa', false); // no flag: never counted, still marked read with its thread
    await put(s, 'b1', 'qb');
    expect(await s.unreadCount()).toBe(3);
    expect(await s.isRead('a1')).toBe(false);
    expect(await s.markThreadRead('qa')).toEqual(['a1', 'a2', 'a3']);
    expect(await s.unreadCount()).toBe(1);
    expect(await s.isRead('a1')).toBe(true);
    expect(await s.isRead('b1')).toBe(false);
    expect(await s.isRead('nope')).toBe(false);
    // Opened again: nothing new became read. A message stored after the opening is unread.
    expect(await s.markThreadRead('qa')).toEqual([]);
    await put(s, 'a4', 'qa');
    expect(await s.unreadCount()).toBe(2);
    expect(await s.markThreadRead('qa')).toEqual(['a4']);
    expect(await s.unreadCount()).toBe(1);
  });

  it('the read state is shared: a second connection (the other process) sees it', async () => {
    const app = mk();
    const nse = mk();
    await put(nse, 'm1', 'q1');
    expect(await app.unreadCount()).toBe(1);
    await app.markThreadRead('q1');
    expect(await nse.isRead('m1')).toBe(true);
    expect(await nse.unreadCount()).toBe(0);
  });

  it('migrates a schema-2 store: its messages are unread', async () => {
    const db = new Database(path.join(dir, 'store.db'));
    db.exec(MIGRATIONS[0]!);
    db.exec(MIGRATIONS[1]!);
    db.pragma('user_version = 2');
    db.prepare("INSERT INTO messages (msg_id, queue_id, ts, flags, sealed, stored_at) VALUES ('old', 'q1', 1, 1, x'01', 1)").run();
    db.close();
    const s = mk();
    expect(SCHEMA_VERSION).toBe(3);
    expect(await s.unreadCount()).toBe(1);
    expect(await s.markThreadRead('q1')).toEqual(['old']);
    expect(s.integrityCheck()).toBe('ok');
  });
});
