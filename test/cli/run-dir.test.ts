/** Run folders are unique even for runs of one scenario and seed started in the same millisecond (issue: `<ms>-s<seed>-p<pid>` was shared). */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runDirFor } from '../../sim/orchestrator/run.js';

const base = mkdtempSync(join(tmpdir(), 'nsekit-rundir-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe('runDirFor', () => {
  it('50 folders for one scenario and seed claimed back to back (same ms for many) are 50 distinct folders', async () => {
    const dirs = await Promise.all(Array.from({ length: 50 }, async () => runDirFor(base, 'same', 7)));
    expect(new Set(dirs).size).toBe(50);
    for (const d of dirs) expect(existsSync(d)).toBe(true);
    // The names keep their shape: <time>-s<seed>-p<pid>, a suffix when the millisecond was taken.
    const names = readdirSync(join(base, 'same')).filter((n) => n !== 'latest');
    expect(names).toHaveLength(50);
    for (const n of names) expect(n).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d-]+Z-s7-p${process.pid}(-\\d+)?$`));
    expect(names.some((n) => /-\d+$/.test(n.replace(`-p${process.pid}`, '')))).toBe(true);
  });
});
