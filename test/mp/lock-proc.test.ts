import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFlockLock, flockHolders, parseProcLocks } from '../../src/node/lock/index.js';

// The /proc/locks reader the simulator uses to detect "frozen while holding the lock".
describe('parseProcLocks', () => {
  it('parses holders and marks blocked waiters (->)', () => {
    const text = [
      '1: FLOCK  ADVISORY  WRITE 8820 fe:00:2146856 0 EOF',
      '1: -> FLOCK  ADVISORY  WRITE 8821 fe:00:2146856 0 EOF',
      '2: POSIX  ADVISORY  READ 77 103:02:42 128 128',
      'garbage line',
    ].join('\n');
    const e = parseProcLocks(text);
    expect(e).toHaveLength(3);
    expect(e[0]).toMatchObject({ kind: 'FLOCK', access: 'WRITE', pid: 8820, major: 0xfen, minor: 0n, ino: 2146856n, waiting: false });
    expect(e[1]).toMatchObject({ pid: 8821, waiting: true });
    expect(e[2]).toMatchObject({ kind: 'POSIX', pid: 77, major: 0x103n, minor: 2n, ino: 42n });
  });
});

describe('flockHolders', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsekit-lockp-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is [] for a missing file and for an unlocked file', () => {
    expect(flockHolders(join(dir, 'missing'))).toEqual([]);
    writeFileSync(join(dir, 'free'), '');
    expect(flockHolders(join(dir, 'free'))).toEqual([]);
  });

  it('names this process while it holds, only for that inode', async () => {
    const lock = createFlockLock(join(dir, 'a.lock'));
    writeFileSync(join(dir, 'b.lock'), '');
    try {
      await lock.acquire();
      expect(flockHolders(join(dir, 'a.lock'))).toEqual([process.pid]);
      expect(flockHolders(join(dir, 'b.lock'))).toEqual([]);
      await lock.release();
      expect(flockHolders(join(dir, 'a.lock'))).toEqual([]);
    } finally {
      await lock.close();
    }
  });

  it('close() while held releases the kernel lock and bumps the generation', async () => {
    const path = join(dir, 'c.lock');
    const lock = createFlockLock(path);
    await lock.acquire();
    await lock.close();
    expect(flockHolders(path)).toEqual([]);
    const again = createFlockLock(path);
    try {
      expect(await again.acquire({ timeoutMs: 1000 })).toEqual({ generation: 1, dirty: true });
    } finally {
      await again.close();
    }
  });
});
