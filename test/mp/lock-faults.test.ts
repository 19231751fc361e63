import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlockLock, flockHolders } from '../../src/node/lock/index.js';
import { spawnLockWorker, type LockWorker } from '../helpers/lock-worker.js';

// Faults on real processes: the holder SIGKILLed, frozen by SIGSTOP, or an outside flock(1).
let dir: string;
let workers: LockWorker[] = [];
let others: ChildProcess[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'nsekit-lockf-'));
});
afterEach(async () => {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGCONT');
  await Promise.all(workers.map((w) => w.kill()));
  for (const p of others) {
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise((r) => p.once('exit', r));
      try {
        process.kill(-p.pid!, 'SIGKILL'); // flock(1) and its `sleep` child share the lock
      } catch {
        p.kill('SIGKILL');
      }
      await exited;
    }
  }
  workers = [];
  others = [];
  rmSync(dir, { recursive: true, force: true });
});

async function worker(backend: 'flock' | 'lease', lockPath: string, opts?: Record<string, number>): Promise<LockWorker> {
  const w = await spawnLockWorker();
  workers.push(w);
  await w.call({ cmd: 'open', backend, lockPath, ...(opts ? { opts } : {}) });
  return w;
}

describe.each(['flock', 'lease'] as const)('%s: holder faults', (backend) => {
  it('SIGKILL of the holder → the waiter acquires within its timeout', async () => {
    const lockPath = join(dir, 'store.lock');
    const [a, b] = await Promise.all([worker(backend, lockPath), worker(backend, lockPath)]);
    await a!.call({ cmd: 'acquire' });
    await a!.call({ cmd: 'release', wrote: true });
    await a!.call({ cmd: 'acquire' });
    const waiting = b!.call({ cmd: 'acquire', timeoutMs: 30_000 });
    // Still excluded while the holder lives (a short probe times out, typed).
    const probe = await spawnLockWorker();
    workers.push(probe);
    await probe.call({ cmd: 'open', backend, lockPath });
    expect(await probe.call({ cmd: 'acquire', timeoutMs: 100 })).toMatchObject({ ev: 'error', code: 'LOCK_TIMEOUT' });
    expect(b!.events.some((e) => e.ev === 'acquired')).toBe(false);
    await a!.kill();
    // flock: the kernel drops the lock at exit; lease: the lease goes stale after leaseMs.
    expect(await waiting).toMatchObject({ ev: 'acquired', generation: 1 });
  });

  it('SIGSTOP of the holder → typed LOCK_TIMEOUT, not a hang; after SIGCONT it releases and the waiter gets in', async () => {
    const lockPath = join(dir, 'store.lock');
    // Lease long enough that the frozen holder keeps it for the whole test.
    const opts = backend === 'lease' ? { leaseMs: 20_000 } : undefined;
    const [a, b] = await Promise.all([worker(backend, lockPath, opts), worker(backend, lockPath, opts)]);
    await a!.call({ cmd: 'acquire' });
    a!.child.kill('SIGSTOP');
    const r = await b!.call({ cmd: 'acquire', timeoutMs: 300 });
    expect(r).toMatchObject({ ev: 'error', code: 'LOCK_TIMEOUT' });
    const details = r.details as { waitedMs: number; holderPid?: number };
    expect(details.waitedMs).toBeGreaterThanOrEqual(300);
    expect(details.holderPid).toBe(a!.pid);
    if (backend === 'flock') expect(flockHolders(lockPath)).toEqual([a!.pid]); // the kernel sees the frozen holder
    a!.child.kill('SIGCONT');
    expect(await a!.call({ cmd: 'release', wrote: true })).toMatchObject({ ev: 'released' });
    expect(await b!.call({ cmd: 'acquire', timeoutMs: 30_000 })).toMatchObject({ ev: 'acquired', generation: 1 });
  });
});

describe('lease: a frozen holder loses its lease (why flock is preferred)', () => {
  it('the waiter takes over after leaseMs; the resumed holder learns it lost the lock', async () => {
    const lockPath = join(dir, 'store.lock');
    const [a, b] = await Promise.all([worker('lease', lockPath), worker('lease', lockPath)]);
    await a!.call({ cmd: 'acquire' });
    a!.child.kill('SIGSTOP');
    expect(await b!.call({ cmd: 'acquire', timeoutMs: 30_000 })).toMatchObject({ ev: 'acquired' });
    a!.child.kill('SIGCONT');
    // proper-lockfile's renewal timer notices the foreign mtime: onCompromised → logged, not held.
    await a!.next((e) => e.ev === 'log' && e.msg === 'lock lost while held');
    expect((await a!.call({ cmd: 'held' })).value).toBe(false);
    const rel = await a!.call({ cmd: 'release', wrote: true });
    expect(rel).toMatchObject({ ev: 'error', code: 'LOCK_NOT_HELD', details: { lost: true } });
    // The loser did not delete the new holder's lease, and its write was still published.
    expect(existsSync(`${lockPath}.lock`)).toBe(true);
    expect((await b!.call({ cmd: 'held' })).value).toBe(true);
    expect((await b!.call({ cmd: 'generation' })).value).toBe(1);
    await b!.call({ cmd: 'release' });
  });
});

describe('flock: an outside flock(1) holder', () => {
  it('blocks our flock backend (LOCK_TIMEOUT naming its pid) until it is killed', async () => {
    const lockPath = join(dir, 'store.lock');
    const ext = spawn('flock', ['-x', lockPath, 'sleep', '30'], { stdio: 'ignore', detached: true });
    others.push(ext);
    // Wait (bounded) until the kernel shows flock(1) holding the file.
    for (let i = 0; i < 500 && !flockHolders(lockPath).includes(ext.pid!); i++) await new Promise((r) => setTimeout(r, 10));
    expect(flockHolders(lockPath)).toEqual([ext.pid]);
    const lock = createFlockLock(lockPath);
    try {
      const err = await lock.acquire({ timeoutMs: 200 }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'LOCK_TIMEOUT', details: { holderPid: ext.pid } });
      const exited = new Promise((r) => ext.once('exit', r));
      process.kill(-ext.pid!, 'SIGKILL');
      await exited;
      expect(await lock.acquire({ timeoutMs: 30_000 })).toMatchObject({ generation: 0 });
      expect(flockHolders(lockPath)).toEqual([process.pid]);
    } finally {
      await lock.close();
    }
  });

  it('our holder blocks flock(1) -n', async () => {
    const lockPath = join(dir, 'store.lock');
    const lock = createFlockLock(lockPath);
    try {
      await lock.acquire();
      const code = await new Promise<number | null>((resolve) => {
        const p = spawn('flock', ['-n', '-x', lockPath, 'true'], { stdio: 'ignore' });
        others.push(p);
        p.once('exit', (c) => resolve(c));
      });
      expect(code).toBe(1); // flock(1) -n exits 1 when the lock is taken
      await lock.release();
    } finally {
      await lock.close();
    }
  });
});
