/**
 * The Node store's schema 2 (docs/store.md): the outbox's dead letters, age and pruning, and the
 * inbound quarantine — including a store written by schema 1 with outbox rows in it.
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

/** A clock the test moves (the outbox keeps updated_at / created_at from it). */
let now = 1_000;
const host: Host = {
  clock: { now: () => now, setTimer: () => 0, clearTimer: () => {} },
  rng: nodeRng,
  log: silentLog,
  failpoints: noFailpoints,
};

let dir: string;
let stores: SharedStore[];
beforeEach(() => {
  now = 1_000;
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsekit-store2-'));
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
const body = (n: number) => new Uint8Array([n, n, n]);

describe('schema 2', () => {
  it('migrates a schema-1 store with outbox rows: created_at from updated_at, no error, quarantine table empty', async () => {
    const db = new Database(path.join(dir, 'store.db'));
    db.exec(MIGRATIONS[0]!);
    db.pragma('user_version = 1');
    db.prepare("INSERT INTO outbox (client_id, queue_id, sealed, state, attempts, updated_at) VALUES ('old', 'q1', x'01', 'sending', 2, 500)").run();
    db.close();
    const s = mk();
    expect(SCHEMA_VERSION).toBeGreaterThanOrEqual(2);
    const [it1] = await s.outboxPending();
    expect(it1).toMatchObject({ clientId: 'old', state: 'sending', attempts: 2, updatedAt: 500, createdAt: 500, lastError: null });
    expect(await s.quarantineList()).toEqual([]);
    expect(s.integrityCheck()).toBe('ok');
  });
});

describe('outbox: dead letters, age, pruning', () => {
  it('failed items leave outboxPending, keep their reason, and are listed; attempts count only `sending` marks', async () => {
    const s = mk();
    for (const id of ['a', 'b', 'c']) await s.outboxAdd({ clientId: id, queueId: 'q1', body: body(1) });
    now = 2_000;
    await s.outboxMark('a', 'sending');
    await s.outboxMark('a', 'failed', { error: 'PROTO_TOO_LARGE' });
    await s.outboxMark('b', 'sending');
    await s.outboxMark('b', 'sent');
    expect((await s.outboxPending()).map((i) => i.clientId)).toEqual(['c']);
    expect(await s.outboxList('failed')).toEqual([
      expect.objectContaining({ clientId: 'a', state: 'failed', attempts: 1, lastError: 'PROTO_TOO_LARGE', createdAt: 1_000, updatedAt: 2_000 }),
    ]);
    expect((await s.outboxList('sent')).map((i) => i.clientId)).toEqual(['b']);
    // A failed id stays queued: enqueueing it again is still a no-op.
    expect(await s.outboxAdd({ clientId: 'a', queueId: 'q1', body: body(2) })).toBe(false);
  });

  it('outboxPrune keeps the newest sent rows and never touches unsent or failed ones', async () => {
    const s = mk();
    for (let i = 1; i <= 6; i++) {
      now = 1_000 + i;
      await s.outboxAdd({ clientId: `s${i}`, queueId: 'q1', body: body(i) });
      await s.outboxMark(`s${i}`, i === 3 ? 'failed' : 'sent', i === 3 ? { error: 'PROTO_AUTH' } : {});
    }
    await s.outboxAdd({ clientId: 'pending', queueId: 'q1', body: body(9) });
    expect(await s.outboxPrune(2)).toBe(3); // s1, s2, s4 go; s5, s6 stay
    expect((await s.outboxList('sent')).map((i) => i.clientId)).toEqual(['s5', 's6']);
    expect((await s.outboxList('failed')).map((i) => i.clientId)).toEqual(['s3']);
    expect((await s.outboxPending()).map((i) => i.clientId)).toEqual(['pending']);
    expect(await s.outboxPrune(2)).toBe(0);
  });
});

describe('quarantine', () => {
  it('add (true once, a repeat bumps attempts and keeps the first bytes), list per queue, remove', async () => {
    const s = mk();
    const e = { msgId: 'm1', queueId: 'q1', ts: 11, flags: { notification: true }, sealed: body(7), reason: 'CRYPTO_AUTH_FAILED', via: 'nse' };
    expect(await s.quarantineAdd(e)).toBe(true);
    now = 5_000;
    expect(await s.quarantineAdd({ ...e, sealed: body(8), reason: 'CRYPTO_BAD_VERSION', via: 'get' })).toBe(false);
    await s.quarantineAdd({ ...e, msgId: 'm2', queueId: 'q2' });
    const all = await s.quarantineList();
    expect(all.map((x) => x.msgId)).toEqual(['m1', 'm2']);
    expect(all[0]).toEqual({
      msgId: 'm1',
      queueId: 'q1',
      ts: 11,
      flags: { notification: true },
      sealed: body(7),
      reason: 'CRYPTO_BAD_VERSION',
      via: 'get',
      attempts: 2,
      firstAt: 1_000,
      lastAt: 5_000,
    });
    expect((await s.quarantineList('q2')).map((x) => x.msgId)).toEqual(['m2']);
    expect(await s.quarantineRemove('m1')).toBe(true);
    expect(await s.quarantineRemove('m1')).toBe(false);
    expect((await s.quarantineList()).map((x) => x.msgId)).toEqual(['m2']);
  });

  it('works while the device is locked (sealed bytes only, no key needed)', async () => {
    const s = mk();
    expect(s.unlocked).toBe(false);
    expect(await s.quarantineAdd({ msgId: 'x', queueId: 'q', ts: 1, flags: { notification: false }, sealed: body(1), reason: 'CRYPTO_TRUNCATED', via: 'import' })).toBe(true);
    expect(await s.quarantineList()).toHaveLength(1);
  });
});
