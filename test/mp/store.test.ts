import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { storeChildFixture } from '../helpers/store-child.js';

const fx = storeChildFixture('nsekit-mp-store-');
const start = fx.start;
const paths = fx.paths;

describe('SharedStore across real processes (flock lock)', () => {
  it('two processes hammer one store: every row exactly once, zero SQLITE_BUSY, no starvation (split printed)', async () => {
    const N = 500;
    const a = start({ role: 'hammer', ...paths(), prefix: 'A', n: N });
    const b = start({ role: 'hammer', ...paths(), prefix: 'B', n: N });
    await Promise.all([a.waitFor((e) => e.ev === 'ready', 'ready'), b.waitFor((e) => e.ev === 'ready', 'ready')]);
    a.go();
    b.go();
    const [da, db_] = await Promise.all([
      a.waitFor((e) => e.ev === 'done', 'done'),
      b.waitFor((e) => e.ev === 'done', 'done'),
    ]);
    expect(da).toEqual({ ev: 'done', count: N, busy: 0 });
    expect(db_).toEqual({ ev: 'done', count: N, busy: 0 });
    expect(await a.exited).toBe(0);
    expect(await b.exited).toBe(0);

    const db = new Database(paths().dbPath, { readonly: true });
    const rows = db.prepare('SELECT msg_id FROM messages ORDER BY id').pluck().all() as string[];
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    db.close();
    expect(rows).toHaveLength(2 * N);
    expect(new Set(rows).size).toBe(2 * N);
    for (const p of ['A', 'B']) for (let i = 0; i < N; i++) expect(rows).toContain(`${p}-${i}`);

    // Fairness over the span where both were writing (rowid order = commit order).
    const lastA = rows.lastIndexOf(rows.filter((r) => r.startsWith('A')).pop()!);
    const lastB = rows.lastIndexOf(rows.filter((r) => r.startsWith('B')).pop()!);
    const firstA = rows.findIndex((r) => r.startsWith('A'));
    const firstB = rows.findIndex((r) => r.startsWith('B'));
    const window = rows.slice(Math.max(firstA, firstB), Math.min(lastA, lastB) + 1);
    const shareA = window.filter((r) => r.startsWith('A')).length / window.length;
    console.log(`[store mp] interleaved window ${window.length} rows, A ${(shareA * 100).toFixed(1)}% / B ${((1 - shareA) * 100).toFixed(1)}%`);
    // They really ran concurrently, and the lock starved neither. The >= 40 % fairness target is
    // measured by `npm run bench` (two_writer_min_share) on a quiet machine: under parallel test load
    // the OS scheduler, not the lock, can park one process for a while, so a tight bound here flakes.
    expect(window.length).toBeGreaterThanOrEqual(N / 5);
    expect(shareA).toBeGreaterThanOrEqual(0.05);
    expect(shareA).toBeLessThanOrEqual(0.95);
  }, 120_000);

  it('SIGKILL of the writer mid-transaction: the other acquires, integrity ok, every reported commit present', async () => {
    const a = start({ role: 'hammer', ...paths(), prefix: 'A', n: 100, pauseAfter: 20 });
    await a.waitFor((e) => e.ev === 'ready', 'A ready');
    a.go();
    const paused = await a.waitFor((e) => e.ev === 'paused', 'A paused inside its tx');
    const committedByA = a.ids('committed');
    expect(committedByA).toHaveLength(20);

    const b = start({ role: 'hammer', ...paths(), prefix: 'B', n: 30, lockTimeoutMs: 30_000 });
    await b.waitFor((e) => e.ev === 'ready', 'B ready');
    b.go();
    expect(b.ids('committed')).toEqual([]); // A holds the lock: B cannot have written yet
    a.proc.kill('SIGKILL');
    await a.exited;
    expect(await b.waitFor((e) => e.ev === 'done', 'B done')).toEqual({ ev: 'done', count: 30, busy: 0 });

    const db = new Database(paths().dbPath, { readonly: true });
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const rows = new Set(db.prepare('SELECT msg_id FROM messages').pluck().all() as string[]);
    db.close();
    for (const id of committedByA) expect(rows.has(id)).toBe(true);
    expect(rows.has((paused as { msgId: string }).msgId)).toBe(false); // the killed tx rolled back
    expect(rows.size).toBe(20 + 30);
  }, 120_000);
});
