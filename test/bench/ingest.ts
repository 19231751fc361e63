/**
 * Store ingest of 1 KiB messages. Two comparisons, each measured in the same run in many short
 * alternating rounds so machine noise hits both sides alike; each ratio is the median of the
 * per-round ratios (a load spike during one side's round moves one round, not the result), and
 * `*_ratio_total` the ratio of the summed times.
 *
 * `ingest_ratio` — the store's own overhead, fsync excluded: both sides `synchronous = NORMAL`
 * (ours asks for it explicitly; it is not the default any more, and not power-cut safe), one
 * message per transaction, sequential:
 *   ours = SharedStore.putPlainMessage (phase gate + flock CrossProcessLock + seal + BEGIN IMMEDIATE insert)
 *   raw  = crypto.randomBytes nonce + bare noble XChaCha20-Poly1305 encrypt + fs-ext flockSync +
 *          better-sqlite3 autocommit insert + unlock
 *
 * `ingest_durable_ratio` — power-cut-safe ingest, `synchronous = FULL` on both sides (every
 * commit synced before it is reported):
 *   ours = SharedStore with its defaults (FULL, group commit), the same messages arriving from
 *          DURABLE_QUEUES queues at once, each queue delivering back to back (await each write,
 *          then the next), all awaited — an NSE fetching several queues, or SUB bursts
 *   raw  = encrypt + flock + insert as above with FULL, one message per transaction, sequential
 *          (the naive durable baseline)
 * Beside it: absolute µs per message for both, and ours with one writer delivering sequentially
 * (`ingest_durable_sequential_*`: nothing to group, every message pays its own sync).
 * Runnable alone: `npx tsx test/bench/ingest.ts [count]`.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { PhaseController } from '../../src/core/phase/index.js';
import type { Host } from '../../src/core/host.js';
import { noFailpoints } from '../../src/core/host.js';
import { nodeClock, nodeRng, silentLog } from '../../src/node/host.js';
import { createFlockLock } from '../../src/node/lock/index.js';
import { MIGRATIONS, SharedStore } from '../../src/node/store/index.js';

const fsExt = createRequire(import.meta.url)('fs-ext') as { flockSync(fd: number, f: 'ex' | 'un'): void };
const BODY = new Uint8Array(1024).fill(0x42);
const ROUNDS = 20;
/** Queues delivering at once in the durable comparison. */
const DURABLE_QUEUES = 8;

type Sync = 'NORMAL' | 'FULL';
interface OursCtx {
  store?: SharedStore;
  done?: () => Promise<void>;
}
interface RawCtx {
  db?: Database.Database;
  fd?: number;
}

async function openOurs(dir: string, name: string, ctx: OursCtx, synchronous?: Sync): Promise<SharedStore> {
  if (!ctx.store) {
    const host: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: noFailpoints };
    const gate = new PhaseController(host, { proc: 'bench' });
    const lock = createFlockLock(path.join(dir, `${name}.lock`), { host });
    // synchronous undefined = the store's default (FULL).
    ctx.store = new SharedStore({ dbPath: path.join(dir, `${name}.db`), lock, host, gate, ...(synchronous ? { synchronous } : {}) });
    ctx.store.open();
    await ctx.store.unlock(new Uint8Array(32).fill(1));
    const store = ctx.store;
    ctx.done = async () => {
      await store.close();
      await lock.close();
      gate.stop();
    };
  }
  return ctx.store;
}

const put = (store: SharedStore, id: string, queueId: string, i: number) =>
  store.putPlainMessage({ msgId: id, queueId, ts: i, flags: { notification: false }, body: BODY });

/** One message per transaction, each awaited before the next. */
async function ours(store: SharedStore, count: number, offset: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  for (let i = offset; i < offset + count; i++) await put(store, `m${i}`, 'q', i);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** `count` messages from `queues` queues at once, each queue back to back; all awaited. */
async function oursConcurrent(store: SharedStore, count: number, offset: number, queues: number): Promise<number> {
  const per = Math.ceil(count / queues);
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: queues }, async (_, q) => {
      for (let i = offset + q * per; i < Math.min(offset + (q + 1) * per, offset + count); i++) await put(store, `m${i}`, `q${q}`, i);
    }),
  );
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function raw(dir: string, name: string, sync: Sync, count: number, offset: number, ctx: RawCtx): number {
  if (!ctx.db) {
    ctx.db = new Database(path.join(dir, `${name}.db`));
    ctx.db.pragma('journal_mode = WAL');
    ctx.db.pragma(`synchronous = ${sync}`);
    ctx.db.exec(MIGRATIONS[0]!);
    ctx.fd = fs.openSync(path.join(dir, `${name}.lock`), 'a+');
  }
  const { db, fd } = ctx as { db: Database.Database; fd: number };
  const key = new Uint8Array(32).fill(2);
  const ins = db.prepare('INSERT INTO messages (msg_id, queue_id, ts, flags, sealed, stored_at) VALUES (?, ?, ?, ?, ?, ?)');
  const t0 = process.hrtime.bigint();
  for (let i = offset; i < offset + count; i++) {
    const nonce = randomBytes(24); // the bare way (ours uses a pooled RNG, src/node/host.ts)
    const ct = xchacha20poly1305(key, nonce).encrypt(BODY);
    fsExt.flockSync(fd, 'ex');
    ins.run(`m${i}`, 'q', i, 0, ct, Date.now());
    fsExt.flockSync(fd, 'un');
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function median(xs: number[]): number {
  const v = [...xs].sort((x, y) => x - y);
  const mid = v.length / 2;
  return v.length % 2 ? v[Math.floor(mid)]! : (v[mid - 1]! + v[mid]!) / 2;
}
const r3 = (x: number): number => Math.round(x * 1000) / 1000;
const r1 = (x: number): number => Math.round(x * 10) / 10;

export type IngestMetrics = {
  ingest_msgs_per_s: number;
  raw_ingest_msgs_per_s: number;
  ingest_ratio: number;
  ingest_ratio_total: number;
  ingest_durable_ratio: number;
  ingest_durable_ratio_total: number;
  ingest_durable_us_per_msg: number;
  raw_ingest_durable_us_per_msg: number;
  ingest_durable_sequential_ratio: number;
  ingest_durable_sequential_us_per_msg: number;
};

/**
 * `count`: messages per side for the NORMAL comparison; `durableCount` (default count / 2: a
 * synced commit is ~15× slower than a NORMAL one here) for the FULL one.
 */
export async function benchIngest(opts: { count: number; durableCount?: number }): Promise<IngestMetrics> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsekit-bench-ingest-'));
  const oN: OursCtx = {};
  const rN: RawCtx = {};
  const oF: OursCtx = {};
  const oS: OursCtx = {};
  const rF: RawCtx = {};
  try {
    // ---- ingest_ratio: NORMAL on both sides, sequential, one message per transaction ----
    const normal = await openOurs(dir, 'ours-normal', oN, 'NORMAL');
    const per = Math.max(1, Math.floor(opts.count / ROUNDS));
    await ours(normal, 200, 1e9); // warm-up (JIT, prepared statements, first dirty grant)
    raw(dir, 'raw-normal', 'NORMAL', 200, 1e9, rN);
    let tOurs = 0;
    let tRaw = 0;
    const ratios: number[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      // Alternate which goes first: load spikes on a shared machine then hit both alike.
      let a = 0;
      if (k % 2 === 0) a = raw(dir, 'raw-normal', 'NORMAL', per, k * per, rN);
      const b = await ours(normal, per, k * per);
      if (k % 2 === 1) a = raw(dir, 'raw-normal', 'NORMAL', per, k * per, rN);
      tRaw += a;
      tOurs += b;
      ratios.push(a / b); // ours' rate ÷ raw's rate for this round
    }
    const n = per * ROUNDS;

    // ---- ingest_durable_ratio: FULL on both sides; ours grouped (queues at once), raw sequential ----
    const durable = await openOurs(dir, 'ours-full', oF); // the default: FULL
    const seq = await openOurs(dir, 'ours-full-seq', oS);
    if (durable.synchronousLevel() !== 2 || seq.synchronousLevel() !== 2) throw new Error('ours is not synchronous = FULL by default');
    const dPer = Math.max(DURABLE_QUEUES, Math.floor((opts.durableCount ?? Math.floor(opts.count / 2)) / ROUNDS));
    await oursConcurrent(durable, 80, 1e9, DURABLE_QUEUES);
    await ours(seq, 40, 1e9);
    raw(dir, 'raw-full', 'FULL', 40, 1e9, rF);
    let tD = 0;
    let tDRaw = 0;
    let tDSeq = 0;
    const dRatios: number[] = [];
    const sRatios: number[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      let a = 0;
      if (k % 2 === 0) a = raw(dir, 'raw-full', 'FULL', dPer, k * dPer, rF);
      const b = await oursConcurrent(durable, dPer, k * dPer, DURABLE_QUEUES);
      const c = await ours(seq, dPer, k * dPer);
      if (k % 2 === 1) a = raw(dir, 'raw-full', 'FULL', dPer, k * dPer, rF);
      tDRaw += a;
      tD += b;
      tDSeq += c;
      dRatios.push(a / b);
      sRatios.push(a / c);
    }
    const dn = dPer * ROUNDS;
    const us = (t: number) => r1((t / dn) * 1e6);
    return {
      ingest_msgs_per_s: Math.round(n / tOurs),
      raw_ingest_msgs_per_s: Math.round(n / tRaw),
      ingest_ratio: r3(median(ratios)),
      ingest_ratio_total: r3(tRaw / tOurs),
      ingest_durable_ratio: r3(median(dRatios)),
      ingest_durable_ratio_total: r3(tDRaw / tD),
      ingest_durable_us_per_msg: us(tD),
      raw_ingest_durable_us_per_msg: us(tDRaw),
      ingest_durable_sequential_ratio: r3(median(sRatios)),
      ingest_durable_sequential_us_per_msg: us(tDSeq),
    };
  } finally {
    for (const o of [oN, oF, oS]) await o.done?.();
    for (const r of [rN, rF]) {
      r.db?.close();
      if (r.fd !== undefined) fs.closeSync(r.fd);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const count = Number(process.argv[2] ?? 10_000);
  console.log(JSON.stringify(await benchIngest({ count })));
}
