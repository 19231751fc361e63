/**
 * SharedStore group commit and the synchronous=FULL default (docs/store.md, "Durability").
 * No wall-clock assertions: transactions are counted through the failpoints the store fires
 * (`db.tx.begin` once per transaction), and orderings through what the callers observe.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NsekitError, isNsekitError } from '../../src/core/errors.js';
import type { Failpoints, Host, Lock, LockGrant, StoredMessage } from '../../src/core/host.js';
import { PhaseController } from '../../src/core/phase/index.js';
import { nodeClock, nodeRng, silentLog } from '../../src/node/host.js';
import { createFlockLock } from '../../src/node/lock/index.js';
import type { CrossProcessLock } from '../../src/node/lock/index.js';
import { PendingInboxFile } from '../../src/node/pending-inbox/index.js';
import { SharedStore } from '../../src/node/store/index.js';
import type { SharedStoreOptions } from '../../src/node/store/index.js';

/** In-process lock; `hold()` keeps it taken from outside so writes pile up behind it. */
class MemLock implements Lock {
  held = false;
  acquires = 0;
  failNext: Error | null = null;
  private waiters: (() => void)[] = [];
  async acquire(): Promise<LockGrant> {
    if (this.failNext) {
      const e = this.failNext;
      this.failNext = null;
      throw e;
    }
    while (this.held) await new Promise<void>((r) => this.waiters.push(r));
    this.held = true;
    this.acquires++;
    return { generation: 0, dirty: false };
  }
  async release(): Promise<void> {
    this.held = false;
    this.waiters.shift()?.();
  }
  /** Take the lock as "the other process" would; returns its release. */
  async hold(): Promise<() => void> {
    await this.acquire();
    return () => void this.release();
  }
}

/** Records every failpoint hit; `pauseAt(name)` makes the next hit of `name` wait until released. */
class RecordingFailpoints implements Failpoints {
  readonly hits: { name: string; fields: Record<string, unknown> }[] = [];
  private pauses = new Map<string, { reached: () => void; gate: Promise<void> }>();
  throwAt: { name: string; error: Error } | null = null;
  hit(name: string, fields?: Record<string, unknown>): void | Promise<void> {
    this.hits.push({ name, fields: fields ?? {} });
    if (this.throwAt?.name === name) throw this.throwAt.error;
    const p = this.pauses.get(name);
    if (p) {
      this.pauses.delete(name);
      p.reached();
      return p.gate;
    }
  }
  /** Resolves (with the release function) when the next hit of `name` is reached and held there. */
  pauseAt(name: string): Promise<() => void> {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    return new Promise((reached) => this.pauses.set(name, { reached: () => reached(release), gate }));
  }
  count(name: string): number {
    return this.hits.filter((h) => h.name === name).length;
  }
  names(prefix: string): string[] {
    return this.hits.filter((h) => h.name.startsWith(prefix)).map((h) => h.name);
  }
}

const KEY = new Uint8Array(32).fill(7);
const enc = (s: string) => new TextEncoder().encode(s);
const plain = (id: string, queueId = 'q1') => ({ msgId: id, queueId, ts: 1, flags: { notification: false }, body: enc(`body ${id}`) });
const sealed = (id: string): StoredMessage => ({ msgId: id, queueId: 'q1', ts: 1, flags: { notification: false }, sealed: enc(`sealed ${id}`) });
const tick = () => new Promise<void>((r) => setImmediate(r));

let dir: string;
const cleanup: (() => Promise<void> | void)[] = [];
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsekit-store-gc-'));
});
afterEach(async () => {
  vi.useRealTimers();
  for (const f of cleanup.splice(0).reverse()) await f();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function mk(opts: Partial<SharedStoreOptions> = {}) {
  const fp = new RecordingFailpoints();
  const lock = new MemLock();
  const host: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: fp };
  const dbPath = path.join(dir, 'store.db');
  const store = new SharedStore({ dbPath, lock, host, ...opts });
  cleanup.push(() => store.close().catch(() => {}));
  store.open();
  await store.unlock(KEY);
  fp.hits.length = 0;
  /** Committed rows as another connection sees them. */
  const committed = (): string[] => {
    const db = new Database(dbPath, { readonly: true });
    try {
      return db.prepare('SELECT msg_id FROM messages ORDER BY id').pluck().all() as string[];
    } finally {
      db.close();
    }
  };
  return { store, fp, lock, committed, dbPath };
}

describe('synchronous pragma', () => {
  it('defaults to FULL (PRAGMA synchronous = 2); NORMAL only when asked for', async () => {
    const { store } = await mk();
    expect(store.synchronousLevel()).toBe(2);
    await store.close();
    const normal = new SharedStore({ dbPath: path.join(dir, 'n.db'), lock: new MemLock(), host: { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: { hit() {} } }, synchronous: 'NORMAL' });
    cleanup.push(() => normal.close());
    normal.open();
    expect(normal.synchronousLevel()).toBe(1);
  });
});

describe('group commit', () => {
  it('writes issued concurrently share transactions: fewer db.tx.begin than writes, every row committed', async () => {
    const { store, fp, committed } = await mk();
    const ids = Array.from({ length: 12 }, (_, i) => `m${i}`);
    const results = await Promise.all(ids.map((id) => store.putPlainMessage(plain(id))));
    expect(results).toEqual(ids.map(() => true));
    expect(fp.count('db.tx.begin')).toBeLessThan(ids.length);
    expect(fp.count('db.tx.begin')).toBe(fp.count('db.tx.commit'));
    expect(committed()).toEqual(ids); // arrival order = commit order (rowid)
  });

  it('writes that arrive while a transaction runs go into exactly the next one, and resolve only after its COMMIT', async () => {
    const { store, fp, committed } = await mk();
    const paused = fp.pauseAt('db.tx.commit');
    const first = store.putPlainMessage(plain('a'));
    const release = await paused; // inside the first transaction, lock held
    const seen: string[] = [];
    const later = ['b', 'c', 'd', 'e'].map((id) =>
      store.putPlainMessage(plain(id)).then((r) => {
        seen.push(`${id}:${r}:${committed().includes(id)}`); // visible to another connection when it resolves
      }),
    );
    for (let i = 0; i < 5; i++) await tick();
    expect(seen).toEqual([]);
    expect(fp.count('db.tx.begin')).toBe(1);
    release();
    expect(await first).toBe(true);
    await Promise.all(later);
    expect(seen).toEqual(['b:true:true', 'c:true:true', 'd:true:true', 'e:true:true']);
    const begins = fp.hits.filter((h) => h.name === 'db.tx.begin').map((h) => h.fields);
    expect(begins).toEqual([{ op: 'putMessage' }, { op: 'putMessage', writes: 4 }]);
    expect(committed()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('everything queued while the lock is held elsewhere is one transaction (one acquire, one BEGIN … COMMIT)', async () => {
    const { store, fp, lock, committed } = await mk();
    const acquiresBefore = lock.acquires;
    const releaseOther = await lock.hold();
    const ws = Array.from({ length: 10 }, (_, i) => store.putMessage(sealed(`m${i}`)));
    for (let i = 0; i < 3; i++) await tick();
    expect(committed()).toEqual([]);
    releaseOther();
    expect(await Promise.all(ws)).toEqual(ws.map(() => true));
    expect(fp.names('db.')).toEqual(['db.tx.begin', 'db.tx.commit']);
    expect(lock.acquires - acquiresBefore).toBe(2); // "the other process", then one for the whole group
  });

  it('each member gets its own result: dedupe true/false, inserted counts, markNotified once', async () => {
    const { store, lock } = await mk();
    const releaseOther = await lock.hold();
    const p = Promise.all([
      store.putMessage(sealed('m1')),
      store.putMessage(sealed('m2')),
      store.putMessage(sealed('m1')), // duplicate of a member earlier in the same group
      store.putMessages([sealed('m2'), sealed('m3'), sealed('m4')]),
      store.markNotified('m1'),
      store.markNotified('m1'),
      store.outboxAdd({ clientId: 'c1', queueId: 'q1', body: enc('o') }),
      store.outboxAdd({ clientId: 'c1', queueId: 'q1', body: enc('o') }),
    ]);
    releaseOther();
    expect(await p).toEqual([true, true, false, 2, true, false, true, false]);
    expect(await store.putMessage(sealed('m3'))).toBe(false); // committed by the group
  });

  it('a failing group transaction rejects every member with the typed error and writes none of them', async () => {
    const { store, fp, lock, committed } = await mk();
    await store.putMessage(sealed('before'));
    const releaseOther = await lock.hold();
    const ws = ['m1', 'm2', 'm3'].map((id) => store.putMessage(sealed(id)));
    const outcomes = Promise.allSettled(ws);
    fp.throwAt = { name: 'db.tx.commit', error: new NsekitError('STORE_IO', 'disk went away') };
    releaseOther();
    const settled = await outcomes;
    fp.throwAt = null;
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const s of settled) expect(isNsekitError((s as PromiseRejectedResult).reason, 'STORE_IO')).toBe(true);
    expect(fp.count('db.tx.begin')).toBe(2); // 'before', then the one failed group
    expect(committed()).toEqual(['before']);
    expect(lock.held).toBe(false);
    expect(await store.putMessage(sealed('m1'))).toBe(true); // the store goes on
  });

  it('a member whose own statement fails rejects alone (its savepoint rolls back); the rest of the group commits', async () => {
    const { store, fp, lock, committed } = await mk();
    const releaseOther = await lock.hold();
    const bad = { ...sealed('bad'), ts: {} as unknown as number }; // better-sqlite3 refuses to bind an object
    const outcomes = Promise.allSettled([store.putMessage(sealed('m1')), store.putMessage(bad), store.putMessage(sealed('m2'))]);
    releaseOther();
    const s = await outcomes;
    expect(s.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(fp.count('db.tx.begin')).toBe(1);
    expect(committed()).toEqual(['m1', 'm2']);
  });

  it('a lock failure rejects the writes that waited for that acquire and writes nothing; later arrivals acquire afresh', async () => {
    const { store, lock, committed } = await mk();
    lock.failNext = new NsekitError('LOCK_TIMEOUT', 'held elsewhere');
    // m1 starts the acquire that fails; m2 arrives after it began, so it gets its own attempt
    // (a full timeout of its own, as with one acquire per write) instead of an early LOCK_TIMEOUT.
    const s = await Promise.allSettled([store.putMessage(sealed('m1')), store.putMessage(sealed('m2'))]);
    expect(s.map((x) => x.status)).toEqual(['rejected', 'fulfilled']);
    expect(isNsekitError((s[0] as PromiseRejectedResult).reason, 'LOCK_TIMEOUT')).toBe(true);
    expect(committed()).toEqual(['m2']);
    expect(await store.putMessage(sealed('m1'))).toBe(true);
  });

  it('close() waits for a queued group, not only the running transaction', async () => {
    const { store, fp, dbPath } = await mk();
    const order: string[] = [];
    const paused = fp.pauseAt('db.tx.commit');
    const first = store.putMessage(sealed('a')).then(() => order.push('a'));
    const release = await paused;
    const queued = ['b', 'c', 'd'].map((id) => store.putMessage(sealed(id)).then(() => order.push(id)));
    const closed = store.close().then(() => order.push('closed'));
    for (let i = 0; i < 5; i++) await tick();
    expect(order).toEqual([]);
    release();
    await Promise.all([first, ...queued, closed]);
    expect(order).toEqual(['a', 'b', 'c', 'd', 'closed']);
    expect(fp.count('db.tx.begin')).toBe(2);
    const db = new Database(dbPath, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(4);
    db.close();
  });

  it('an uncontended write starts at once: no timer or setImmediate between the call and its COMMIT', async () => {
    const { store, fp } = await mk();
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'setImmediate'] });
    expect(await store.putPlainMessage(plain('solo'))).toBe(true); // would hang if a timer had to fire
    vi.useRealTimers();
    expect(fp.hits).toEqual([
      { name: 'db.tx.begin', fields: { op: 'putMessage' } },
      { name: 'db.tx.commit', fields: { op: 'putMessage' } },
    ]);
  });

  it('maxGroupWrites: 1 turns grouping off (one transaction per write)', async () => {
    const { store, fp } = await mk({ maxGroupWrites: 1 });
    await Promise.all(['a', 'b', 'c', 'd'].map((id) => store.putMessage(sealed(id))));
    expect(fp.count('db.tx.begin')).toBe(4);
  });

  it('large bursts are split at maxGroupWrites', async () => {
    const { store, fp, lock } = await mk({ maxGroupWrites: 3 });
    const releaseOther = await lock.hold();
    const ws = Array.from({ length: 7 }, (_, i) => store.putMessage(sealed(`m${i}`)));
    releaseOther();
    await Promise.all(ws);
    expect(fp.hits.filter((h) => h.name === 'db.tx.begin').map((h) => h.fields.writes ?? 1)).toEqual([3, 3, 1]);
  });
});

describe('group commit with the real flock lock and phase gate', () => {
  let lock: CrossProcessLock | undefined;
  let phase: PhaseController | undefined;
  afterEach(async () => {
    phase?.stop();
    await lock?.close();
    lock = undefined;
    phase = undefined;
  });

  it('8 queues delivering back to back: one lock hold per transaction, failpoints in the order the simulator reads them', async () => {
    const fp = new RecordingFailpoints();
    const host: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: fp };
    lock = createFlockLock(path.join(dir, 'store.lock'), { host });
    phase = new PhaseController(host, { proc: 'app' });
    const store = new SharedStore({ dbPath: path.join(dir, 'store.db'), lock, host, gate: phase });
    cleanup.push(() => store.close().catch(() => {}));
    store.open();
    await store.unlock(KEY);
    fp.hits.length = 0;
    const Q = 8;
    const PER = 6;
    await Promise.all(
      Array.from({ length: Q }, async (_, q) => {
        for (let i = 0; i < PER; i++) expect(await store.putPlainMessage(plain(`q${q}-${i}`, `q${q}`))).toBe(true);
      }),
    );
    const tx = fp.count('db.tx.begin');
    expect(tx).toBeLessThan(Q * PER);
    // Per transaction exactly: acquire, BEGIN, COMMIT, release — never a second BEGIN inside one hold.
    const seq = fp.hits.map((h) => h.name).filter((n) => n.startsWith('lock.') || n.startsWith('db.tx.'));
    const unit = ['lock.acquire.start', 'lock.acquired', 'db.tx.begin', 'db.tx.commit', 'lock.release', 'lock.released'];
    expect(seq).toEqual(Array.from({ length: tx }, () => unit).flat());
    for (let q = 0; q < Q; q++) {
      expect(await store.listMessageIds(`q${q}`)).toEqual(Array.from({ length: PER }, (_, i) => `q${q}-${i}`));
    }
  });
});

describe('pending-inbox import: the claim is unlinked only after synced writes', () => {
  it('order: store COMMIT (FULL) → putMessages resolves → .rejected fsynced → claim unlinked; a new live file gets its directory synced', async () => {
    const { store, fp } = await mk();
    expect(store.synchronousLevel()).toBe(2);
    const host: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: fp };
    const inboxPath = path.join(dir, 'pending.jsonl');
    const inbox = new PendingInboxFile(inboxPath, host);
    const order: string[] = [];
    const fdPath = new Map<number, string>();
    const name = (p: string) => (p === dir ? 'dir' : path.basename(p).replace(/\.importing\..*/, '.importing'));
    const realOpen = fs.openSync.bind(fs);
    const realFsync = fs.fsyncSync.bind(fs);
    const realUnlink = fs.unlinkSync.bind(fs);
    vi.spyOn(fs, 'openSync').mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
      const fd = (realOpen as (...a: unknown[]) => number)(p, ...rest);
      fdPath.set(fd, String(p));
      return fd;
    }) as typeof fs.openSync);
    vi.spyOn(fs, 'fsyncSync').mockImplementation((fd: number) => {
      order.push(`fsync ${name(fdPath.get(fd) ?? '?')}`);
      realFsync(fd);
    });
    vi.spyOn(fs, 'unlinkSync').mockImplementation((p: fs.PathLike) => {
      order.push(`unlink ${name(String(p))}`);
      realUnlink(p);
    });
    try {
      await inbox.append(sealed('m1'));
      await inbox.append(sealed('m2'));
      fs.appendFileSync(inboxPath, 'garbage\n'); // a bad line: goes to .rejected
      expect(order).toEqual(['fsync pending.jsonl', 'fsync dir', 'fsync pending.jsonl']); // dir once: the file was new
      order.length = 0;
      fp.hits.length = 0;
      const target = {
        putMessages: async (ms: StoredMessage[], notified?: readonly string[]) => {
          const n = await store.putMessages(ms, notified);
          order.push(`putMessages resolved (${fp.count('db.tx.commit')} commit)`);
          return n;
        },
      };
      expect(await inbox.importInto(target)).toMatchObject({ inserted: 2, bad: 1 });
    } finally {
      vi.restoreAllMocks();
    }
    expect(order).toEqual([
      'putMessages resolved (1 commit)',
      'fsync pending.jsonl.rejected',
      'fsync dir', // .rejected was created by this import
      'unlink pending.jsonl.importing',
    ]);
  });
});
