import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isNsekitError } from '../../src/core/errors.js';
import type { Host, Lock, LockGrant } from '../../src/core/host.js';
import { noFailpoints } from '../../src/core/host.js';
import { nodeClock, nodeRng, silentLog } from '../../src/node/host.js';
import { SCHEMA_VERSION, SharedStore } from '../../src/node/store/index.js';

/** In-process stand-in for the cross-process lock (unit tests only; mp tests use the real flock). */
class MemLock implements Lock {
  held = false;
  acquires = 0;
  private waiters: (() => void)[] = [];
  async acquire(): Promise<LockGrant> {
    while (this.held) await new Promise<void>((r) => this.waiters.push(r));
    this.held = true;
    this.acquires++;
    return { generation: 0, dirty: false };
  }
  async release(): Promise<void> {
    this.held = false;
    this.waiters.shift()?.();
  }
}

const host: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: noFailpoints };
const KEY = new Uint8Array(32).fill(7);
const OTHER = new Uint8Array(32).fill(9);
const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

async function code(p: Promise<unknown> | (() => unknown)): Promise<string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return isNsekitError(e) ? e.code : `non-typed: ${String(e)}`;
  }
  return 'no error';
}

let dir: string;
let stores: SharedStore[];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsekit-store-'));
  stores = [];
});
afterEach(async () => {
  for (const s of stores) await s.close().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
});
function mk(dbPath = path.join(dir, 'store.db'), lock: Lock = new MemLock()) {
  const s = new SharedStore({ dbPath, lock, host });
  stores.push(s);
  return s;
}
const msg = (i: number, body = `hello ${i}`) => ({
  msgId: `m${i}`,
  queueId: 'q1',
  ts: 1000 + i,
  flags: { notification: i % 2 === 0 },
  body: enc(body),
});

describe('SharedStore', () => {
  it('migrates to the current user_version, WAL mode, and reopens without re-migrating', async () => {
    const s = mk();
    s.open();
    await s.close();
    const db = new Database(path.join(dir, 'store.db'));
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = db.prepare("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name").pluck().all();
    expect(tables).toEqual(['cursors', 'messages', 'meta', 'notifications', 'outbox', 'quarantine']);
    db.close();
    s.open();
    expect(s.integrityCheck()).toBe('ok');
  });

  it('refuses a schema newer than it knows (STORE_SCHEMA_TOO_NEW)', () => {
    const p = path.join(dir, 'store.db');
    const db = new Database(p);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => mk(p).open()).toThrow(expect.objectContaining({ code: 'STORE_SCHEMA_TOO_NEW' }));
  });

  it('inserts idempotently on msgId and round-trips plaintext through the seal', async () => {
    const lock = new MemLock();
    const s = mk(undefined, lock);
    s.open();
    await s.unlock(KEY);
    expect(await s.putPlainMessage(msg(1))).toBe(true);
    expect(await s.putPlainMessage(msg(1, 'different'))).toBe(false);
    expect(await s.putMessages([2, 3, 1].map((i) => ({ ...msg(i), sealed: new Uint8Array(48) })))).toBe(2);
    expect(await s.countMessages()).toBe(3);
    expect(await s.hasMessage('m1')).toBe(true);
    expect(await s.hasMessage('nope')).toBe(false);
    const r = await s.readMessage('m1');
    expect(r && dec(r.body)).toBe('hello 1');
    expect(r?.flags).toEqual({ notification: false });
    expect(await s.listMessageIds('q1')).toEqual(['m1', 'm2', 'm3']);
    expect(await s.markNotified('m1')).toBe(true);
    expect(await s.markNotified('m1')).toBe(false);
    expect(lock.held).toBe(false);
    expect(lock.acquires).toBeGreaterThanOrEqual(5);
  });

  it('keeps cursors and an outbox with states', async () => {
    const s = mk();
    s.open();
    expect(await s.getCursor('q1')).toEqual({ lastMsgId: null, lastTs: 0 });
    await s.setCursor('q1', { lastMsgId: 'm5', lastTs: 55 });
    await s.setCursor('q1', { lastMsgId: 'm6', lastTs: 66 });
    expect(await s.getCursor('q1')).toEqual({ lastMsgId: 'm6', lastTs: 66 });
    expect(await s.outboxAdd({ clientId: 'c1', queueId: 'q1', body: new Uint8Array([1, 2]) })).toBe(true);
    expect(await s.outboxAdd({ clientId: 'c1', queueId: 'q1', body: new Uint8Array([3]) })).toBe(false);
    await s.outboxAdd({ clientId: 'c2', queueId: 'q1', body: new Uint8Array([4]) });
    await s.outboxMark('c1', 'sending');
    await s.outboxMark('c2', 'sent');
    const p = await s.outboxPending();
    expect(p.map((i) => [i.clientId, i.state, i.attempts, [...i.body]])).toEqual([['c1', 'sending', 1, [1, 2]]]);
  });

  it('wrong master key → STORE_WRONG_KEY; locked → STORE_LOCKED; unlock again works', async () => {
    const s = mk();
    s.open();
    await s.unlock(KEY);
    await s.putPlainMessage(msg(1));
    s.lockDevice();
    expect(s.unlocked).toBe(false);
    expect(await code(s.readMessage('m1'))).toBe('STORE_LOCKED');
    expect(await code(() => s.putPlainMessage(msg(2)))).toBe('STORE_LOCKED');
    expect(await code(s.unlock(OTHER))).toBe('STORE_WRONG_KEY');
    expect(s.unlocked).toBe(false);
    // A second process opening the same file with the wrong key is refused too.
    const other = mk();
    other.open();
    expect(await code(other.unlock(OTHER))).toBe('STORE_WRONG_KEY');
    await s.unlock(KEY);
    expect(dec((await s.readMessage('m1'))!.body)).toBe('hello 1');
  });

  it('close → STORE_CLOSED, then reopen works and the WAL was truncated', async () => {
    const s = mk();
    s.open();
    await s.unlock(KEY);
    await s.putPlainMessage(msg(1));
    await s.close();
    expect(s.isOpen).toBe(false);
    expect(await code(() => s.putPlainMessage(msg(2)))).toBe('STORE_CLOSED');
    expect(await code(() => s.countMessages())).toBe('STORE_CLOSED');
    const wal = path.join(dir, 'store.db-wal');
    expect(fs.existsSync(wal) ? fs.statSync(wal).size : 0).toBe(0);
    s.open();
    expect(await s.countMessages()).toBe(1);
    expect(dec((await s.readMessage('m1'))!.body)).toBe('hello 1');
  });

  it('close waits for an in-flight write to commit', async () => {
    const s = mk();
    s.open();
    await s.unlock(KEY);
    const w = s.putPlainMessage(msg(1));
    await s.close();
    expect(await w).toBe(true);
    s.open();
    expect(await s.hasMessage('m1')).toBe(true);
  });

  it.each([
    ['random bytes', () => Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919) & 255))],
    ['truncated header', () => Buffer.from('SQLite format 3\0\x10\x00')],
  ])('corrupt DB file (%s) → STORE_CORRUPT, file left untouched', (_name, bytes) => {
    const p = path.join(dir, 'bad.db');
    const b = bytes();
    fs.writeFileSync(p, b);
    expect(() => mk(p).open()).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    expect(fs.readFileSync(p).equals(b)).toBe(true);
  });

  /** A store of 200 messages whose b-tree pages are smashed (header kept valid); returns its bytes. */
  async function damagedStore(p: string): Promise<Buffer> {
    const s = mk(p);
    s.open();
    await s.unlock(KEY);
    for (let i = 0; i < 200; i++) await s.putPlainMessage(msg(i, 'x'.repeat(500)));
    await s.close();
    const b = fs.readFileSync(p);
    b.fill(0xff, 4096 * 2, 4096 * 6);
    fs.writeFileSync(p, b);
    return b;
  }

  it('a DB with damaged pages → STORE_CORRUPT, file untouched', async () => {
    const p = path.join(dir, 'dmg.db');
    const b = await damagedStore(p);
    expect(() => mk(p).open()).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    expect(fs.readFileSync(p).equals(b)).toBe(true);
  });

  it("integrityCheck 'none' (the NSE): damaged pages → STORE_CORRUPT from the first statement that meets them, file untouched", async () => {
    const p = path.join(dir, 'dmg-none.db');
    const b = await damagedStore(p);
    const nse = new SharedStore({ dbPath: p, lock: new MemLock(), host, integrityCheck: 'none' });
    stores.push(nse);
    nse.open(); // only the header is checked: the smashed b-tree pages are not read yet
    await expect(nse.listMessageIds()).rejects.toMatchObject({ code: 'STORE_CORRUPT' });
    expect(fs.readFileSync(p).equals(b)).toBe(true);
  });

  it('tampered sealed row → CRYPTO_AUTH_FAILED on read, other rows still readable', async () => {
    const p = path.join(dir, 'store.db');
    const s = mk(p);
    s.open();
    await s.unlock(KEY);
    for (let i = 1; i <= 3; i++) await s.putPlainMessage(msg(i));
    const db = new Database(p);
    const sealed = db.prepare("SELECT sealed FROM messages WHERE msg_id='m2'").pluck().get() as Buffer;
    sealed[sealed.length - 20]! ^= 1;
    db.prepare("UPDATE messages SET sealed=? WHERE msg_id='m2'").run(sealed);
    // A row moved to another id must not open either.
    const s3 = db.prepare("SELECT sealed FROM messages WHERE msg_id='m3'").pluck().get() as Buffer;
    db.prepare("UPDATE messages SET sealed=? WHERE msg_id='m1'").run(s3);
    db.close();
    expect(await code(s.readMessage('m2'))).toBe('CRYPTO_AUTH_FAILED');
    expect(await code(s.readMessage('m1'))).toBe('CRYPTO_AUTH_FAILED');
    expect(dec((await s.readMessage('m3'))!.body)).toBe('hello 3');
  });

  it('every write goes through the gate database class and the db.tx failpoints, in order', async () => {
    const seen: string[] = [];
    const lock = new MemLock();
    const s = new SharedStore({
      dbPath: path.join(dir, 'g.db'),
      lock,
      host: { ...host, failpoints: { hit: (n) => void seen.push(`${n}:${lock.held}`) } },
      gate: { run: async (cls, fn) => (seen.push(`gate:${cls}`), fn()) },
    });
    stores.push(s);
    s.open();
    await s.unlock(KEY);
    seen.length = 0;
    await s.putPlainMessage(msg(1));
    await s.countMessages();
    expect(seen).toEqual(['gate:database', 'db.tx.begin:true', 'db.tx.commit:true', 'gate:database']);
  });

  it('a failpoint that throws rolls the transaction back and releases the lock', async () => {
    const lock = new MemLock();
    let fail = true;
    const s = new SharedStore({
      dbPath: path.join(dir, 'f.db'),
      lock,
      host: { ...host, failpoints: { hit: (n) => { if (fail && n === 'db.tx.commit') throw new Error('boom'); } } },
    });
    stores.push(s);
    s.open();
    fail = false;
    await s.unlock(KEY);
    fail = true;
    await expect(s.putPlainMessage(msg(1))).rejects.toThrow('boom');
    expect(lock.held).toBe(false);
    expect(await s.hasMessage('m1')).toBe(false);
  });
});

describe('SharedStore I/O errors', () => {
  it('a database in a missing directory → STORE_IO, not a crash', () => {
    const s = new SharedStore({ dbPath: path.join(dir, 'no', 'such', 'store.db'), lock: new MemLock(), host });
    expect(() => s.open()).toThrow(expect.objectContaining({ code: 'STORE_IO' }));
    expect(s.isOpen).toBe(false);
  });
});
