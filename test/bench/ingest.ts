/**
 * Store ingest of 1 KiB messages, one message per transaction:
 *   ours = SharedStore.putPlainMessage (phase gate + flock CrossProcessLock + seal + BEGIN IMMEDIATE insert)
 *   raw  = crypto.randomBytes nonce + bare noble XChaCha20-Poly1305 encrypt + fs-ext flockSync +
 *          better-sqlite3 insert + unlock
 * Both in the same run, in many short alternating rounds so machine noise hits
 * both alike; `ingest_ratio` is the median of the per-round ratios (a load
 * spike during one side's round moves one round, not the result), and
 * `ingest_ratio_total` the ratio of the summed times.
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

async function ours(dir: string, count: number, offset: number, ctx: { store?: SharedStore }): Promise<number> {
  const host: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: noFailpoints };
  if (!ctx.store) {
    const gate = new PhaseController(host, { proc: 'bench' });
    const lock = createFlockLock(path.join(dir, 'ours.lock'), { host });
    ctx.store = new SharedStore({ dbPath: path.join(dir, 'ours.db'), lock, host, gate });
    ctx.store.open();
    await ctx.store.unlock(new Uint8Array(32).fill(1));
  }
  const store = ctx.store;
  const t0 = process.hrtime.bigint();
  for (let i = offset; i < offset + count; i++) {
    await store.putPlainMessage({ msgId: `m${i}`, queueId: 'q', ts: i, flags: { notification: false }, body: BODY });
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function raw(dir: string, count: number, offset: number, ctx: { db?: Database.Database; fd?: number }): number {
  if (!ctx.db) {
    ctx.db = new Database(path.join(dir, 'raw.db'));
    ctx.db.pragma('journal_mode = WAL');
    ctx.db.pragma('synchronous = NORMAL');
    ctx.db.exec(MIGRATIONS[0]!);
    ctx.fd = fs.openSync(path.join(dir, 'raw.lock'), 'a+');
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

export async function benchIngest(opts: { count: number }): Promise<{
  ingest_msgs_per_s: number;
  raw_ingest_msgs_per_s: number;
  ingest_ratio: number;
  ingest_ratio_total: number;
}> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsekit-bench-ingest-'));
  const o: { store?: SharedStore } = {};
  const r: { db?: Database.Database; fd?: number } = {};
  try {
    const per = Math.max(1, Math.floor(opts.count / ROUNDS));
    await ours(dir, 200, 1e9, o); // warm-up (JIT, prepared statements, first dirty grant)
    raw(dir, 200, 1e9, r);
    let tOurs = 0;
    let tRaw = 0;
    const ratios: number[] = [];
    for (let k = 0; k < ROUNDS; k++) {
      // Alternate which goes first: load spikes on a shared machine then hit both alike.
      let a = 0;
      if (k % 2 === 0) a = raw(dir, per, k * per, r);
      const b = await ours(dir, per, k * per, o);
      if (k % 2 === 1) a = raw(dir, per, k * per, r);
      tRaw += a;
      tOurs += b;
      ratios.push(a / b); // ours' rate ÷ raw's rate for this round
    }
    const n = per * ROUNDS;
    const ingest = n / tOurs;
    const rawRate = n / tRaw;
    ratios.sort((x, y) => x - y);
    const mid = ratios.length / 2;
    const median = ratios.length % 2 ? ratios[Math.floor(mid)]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
    const r3 = (x: number): number => Math.round(x * 1000) / 1000;
    return {
      ingest_msgs_per_s: Math.round(ingest),
      raw_ingest_msgs_per_s: Math.round(rawRate),
      ingest_ratio: r3(median),
      ingest_ratio_total: r3(ingest / rawRate),
    };
  } finally {
    await o.store?.close();
    r.db?.close();
    if (r.fd !== undefined) fs.closeSync(r.fd);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const count = Number(process.argv[2] ?? 10_000);
  console.log(JSON.stringify(await benchIngest({ count })));
}
