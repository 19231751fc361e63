/**
 * Lock handoff benchmark: two real processes ping-pong one lock, and each
 * handoff is timed from the holder's release to the other's acquire (both
 * stamp process.hrtime.bigint(), CLOCK_MONOTONIC, shared by the processes).
 * Four modes in one run:
 * - `raw`: bare fs-ext flock ping-pong — `flockSync(fd, 'ex')` / `'un'`, the
 *   kernel queues the waiter and wakes it on unlock (the baseline);
 * - `spin`: the strongest bare baseline we know — `flockSync(fd, 'exnb')`
 *   back-to-back for the whole wait, a core burnt (which our lock must not do);
 * - `flock`: our flock backend, `release({ wrote: true })` (generation pwrite
 *   on release, header pread on acquire, fairness, timeout);
 * - `lease`: our lease backend.
 *
 * Protocol per round r, through a small shared file [held, ready, tRel]: the
 * holder takes the lock (uncontended) and publishes `held = r`; the waiter
 * sees it, publishes `ready = r` and calls acquire; the holder keeps the lock
 * HOLD_US more so the waiter is really waiting, stamps tRel and releases; the
 * waiter stamps its acquire, releases, and roles swap. raw, spin and ours
 * alternate in pairs of rounds inside the same two processes, so machine load
 * hits all alike; lease rounds follow.
 *
 * `npx tsx test/bench/lock.ts [rounds]` prints the JSON.
 */
import { fork } from 'node:child_process';
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

type Mode = 'raw' | 'spin' | 'flock' | 'lease';
const INTERLEAVED = ['raw', 'spin', 'flock'] as const;
const HOLD_US = 50n;
const WARMUP = 50; // pairs of rounds dropped per mode (JIT warm-up)
const SPIN_LIMIT_MS = 60_000;

export type LockBench = {
  lock_handoff_p50_us: number;
  lock_handoff_p99_us: number;
  raw_flock_handoff_p50_us: number;
  raw_flock_handoff_p99_us: number;
  /** Ours ÷ bare (blocking) flock ping-pong, at the median. */
  lock_handoff_ratio: number;
  lock_handoff_p99_ratio: number;
  raw_spin_flock_handoff_p50_us: number;
  raw_spin_flock_handoff_p99_us: number;
  /** Ours ÷ a bare core-burning non-blocking spin, at the median. */
  lock_handoff_spin_ratio: number;
  lock_handoff_spin_p99_ratio: number;
  lease_handoff_p50_us: number;
  lease_handoff_p99_us: number;
};

export async function benchLock(opts: { rounds: number }): Promise<LockBench> {
  const h = await runPair(opts.rounds, Math.min(opts.rounds, 300));
  const raw = stats(h.raw);
  const spin = stats(h.spin);
  const ours = stats(h.flock);
  const lease = stats(h.lease);
  const r1 = (x: number): number => Math.round(x * 10) / 10;
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return {
    lock_handoff_p50_us: r1(ours.p50),
    lock_handoff_p99_us: r1(ours.p99),
    raw_flock_handoff_p50_us: r1(raw.p50),
    raw_flock_handoff_p99_us: r1(raw.p99),
    lock_handoff_ratio: r2(ours.p50 / raw.p50),
    lock_handoff_p99_ratio: r2(ours.p99 / raw.p99),
    raw_spin_flock_handoff_p50_us: r1(spin.p50),
    raw_spin_flock_handoff_p99_us: r1(spin.p99),
    lock_handoff_spin_ratio: r2(ours.p50 / spin.p50),
    lock_handoff_spin_p99_ratio: r2(ours.p99 / spin.p99),
    lease_handoff_p50_us: r1(lease.p50),
    lease_handoff_p99_us: r1(lease.p99),
  };
}

type Handoffs = Record<Mode, number[]>;

/** Mode of round r (1-based): raw/spin/ours rotate in pairs (each role waits in each), then lease. */
function modeOf(r: number, rounds: number): Mode {
  if (r <= INTERLEAVED.length * rounds) return INTERLEAVED[Math.floor((r - 1) / 2) % INTERLEAVED.length]!;
  return 'lease';
}

async function runPair(rounds: number, leaseRounds: number): Promise<Handoffs> {
  const dir = mkdtempSync(join(tmpdir(), 'nsekit-lockbench-'));
  const self = fileURLToPath(import.meta.url);
  const args = (role: number): string[] => ['--lock-bench-child', String(role), dir, String(rounds + WARMUP), String(leaseRounds)];
  const kids = [0, 1].map((role) =>
    fork(self, args(role), { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  try {
    const results = await Promise.all(
      kids.map(
        (k) =>
          new Promise<Handoffs>((resolve, reject) => {
            k.once('message', (m) => resolve(m as Handoffs));
            k.once('exit', (code) => reject(new Error(`lock bench child exited ${code}`)));
          }),
      ),
    );
    const out: Handoffs = { raw: [], spin: [], flock: [], lease: [] };
    for (const h of results) for (const m of ['raw', 'spin', 'flock', 'lease'] as const) out[m].push(...h[m]);
    return out;
  } finally {
    for (const k of kids) if (k.exitCode === null && k.signalCode === null) k.kill('SIGKILL');
    await Promise.all(kids.map((k) => (k.exitCode !== null || k.signalCode !== null ? null : new Promise((r) => k.once('exit', r)))));
    rmSync(dir, { recursive: true, force: true });
  }
}

function stats(xs: number[]): { p50: number; p99: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { p50: pct(s, 0.5), p99: pct(s, 0.99) };
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!;
}

interface Acquirer {
  acquire(): Promise<unknown> | void;
  release(): Promise<void> | void;
}

async function makeAcquirer(mode: Mode, lockPath: string): Promise<Acquirer> {
  if (mode === 'raw' || mode === 'spin') {
    const { fsExt, isWouldBlock } = await import('../../src/node/lock/fs-ext.js');
    const fd = openSync(lockPath, constants.O_RDWR | constants.O_CREAT, 0o644);
    if (mode === 'raw') return { acquire: () => fsExt.flockSync(fd, 'ex'), release: () => fsExt.flockSync(fd, 'un') };
    return {
      acquire() {
        for (;;) {
          try {
            return fsExt.flockSync(fd, 'exnb');
          } catch (e) {
            if (!isWouldBlock(e)) throw e;
          }
        }
      },
      release: () => fsExt.flockSync(fd, 'un'),
    };
  }
  const { createLock } = await import('../../src/node/lock/index.js');
  const lock = createLock(mode, lockPath, { defaultTimeoutMs: 30_000 });
  return {
    // The promise itself, not an async wrapper: no extra await layer that the raw side does not have.
    acquire: () => lock.acquire(),
    release: () => lock.release({ wrote: true }),
  };
}

async function child(role: number, dir: string, rounds: number, leaseRounds: number): Promise<void> {
  const locks: Record<Mode, Acquirer> = {
    raw: await makeAcquirer('raw', join(dir, 'raw.lock')),
    spin: await makeAcquirer('spin', join(dir, 'spin.lock')),
    flock: await makeAcquirer('flock', join(dir, 'flock.lock')),
    lease: await makeAcquirer('lease', join(dir, 'lease.lock')),
  };
  const fd = openSync(join(dir, 'pingpong'), constants.O_RDWR | constants.O_CREAT, 0o644);
  const buf = Buffer.alloc(8);
  const get = (off: number): bigint => (readSync(fd, buf, 0, 8, off) === 8 ? buf.readBigUInt64LE(0) : 0n);
  const put = (off: number, v: bigint): void => {
    buf.writeBigUInt64LE(v, 0);
    writeSync(fd, buf, 0, 8, off);
  };
  const HELD = 0, READY = 8, TREL = 16;
  const waitUntil = (pred: () => boolean): void => {
    const limit = Date.now() + SPIN_LIMIT_MS;
    while (!pred()) if (Date.now() > limit) throw new Error('bench peer stalled');
  };
  const handoffs: Handoffs = { raw: [], spin: [], flock: [], lease: [] };
  const total = INTERLEAVED.length * rounds + leaseRounds;
  for (let r = 1; r <= total; r++) {
    const mode = modeOf(r, rounds);
    const lk = locks[mode];
    const R = BigInt(r);
    if (r % 2 === role) {
      // Holder.
      await lk.acquire();
      put(HELD, R);
      waitUntil(() => get(READY) === R);
      const until = process.hrtime.bigint() + HOLD_US * 1000n;
      while (process.hrtime.bigint() < until);
      put(TREL, process.hrtime.bigint());
      await lk.release();
    } else {
      waitUntil(() => get(HELD) === R);
      put(READY, R);
      await lk.acquire();
      const us = Number(process.hrtime.bigint() - get(TREL)) / 1000;
      await lk.release();
      if (r > 2 * INTERLEAVED.length * WARMUP || mode === 'lease') handoffs[mode].push(us);
    }
  }
  closeSync(fd);
  process.send!(handoffs, () => process.exit(0));
}

const argv = process.argv;
const ci = argv.indexOf('--lock-bench-child');
if (ci >= 0) {
  void child(Number(argv[ci + 1]), argv[ci + 2]!, Number(argv[ci + 3]), Number(argv[ci + 4]));
} else if (argv[1] && fileURLToPath(import.meta.url) === argv[1]) {
  const rounds = Number(argv[2] ?? 2000);
  console.log(JSON.stringify(await benchLock({ rounds })));
}
