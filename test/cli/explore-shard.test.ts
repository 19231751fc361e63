/**
 * `nsekit explore --shard i/n` + `nsekit explore merge`: a run space explored in 4 slices
 * and merged gives the summary one whole run gives (docs/cli.md, "Shards"), and the out dir
 * is written even when nothing failed.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runExploreCli } from '../../sim/explore/cli.js';
import { mergeSummaries, type FastSummary } from '../../sim/explore/summary.js';

const dir = mkdtempSync(join(tmpdir(), 'nsekit-shard-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function explore(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runExploreCli(args[0] === 'merge' ? args : [...args, '--no-progress'], (s) => lines.push(s), (s) => lines.push(`stderr: ${s}`));
  return { code, lines };
}
const read = (d: string): FastSummary => JSON.parse(readFileSync(join(d, 'summary.json'), 'utf8'));
/** What must be identical: everything but the speed and the folders the files sit in. */
function comparable(s: FastSummary, outDir: string): unknown {
  const { runs_per_s: _speed, shard: _shard, ...rest } = s;
  return JSON.parse(JSON.stringify(rest).split(outDir).join('OUT'));
}

async function wholeAndShards(args: string[], n: number, tag: string) {
  const wholeDir = join(dir, `${tag}-whole`);
  const whole = await explore([...args, '--out', wholeDir]);
  const shardDirs: string[] = [];
  for (let i = 1; i <= n; i++) {
    const d = join(dir, `${tag}-shard-${i}`);
    shardDirs.push(d);
    const r = await explore([...args, '--shard', `${i}/${n}`, '--out', d]);
    expect(r.lines[0]).toContain(`shard=${i}/${n}`);
  }
  const mergedDir = join(dir, `${tag}-merged`);
  const merged = await explore(['merge', ...shardDirs, '--out', mergedDir]);
  return { whole, merged, wholeDir, mergedDir, shardDirs };
}

describe('explore --shard i/n + explore merge', () => {
  it('--runs 2000 --seed 5: four shards merged give the whole run\'s summary (counts, by_invariant, exit code)', { timeout: 300_000 }, async () => {
    const { whole, merged, wholeDir, mergedDir, shardDirs } = await wholeAndShards(['--runs', '2000', '--seed', '5'], 4, 'plain');
    const w = read(wholeDir);
    const m = read(mergedDir);
    expect(w.runs).toBe(2000);
    expect(w.by_invariant).toBeTypeOf('object'); // written, and with by_invariant, even when nothing failed
    expect(shardDirs.map((d) => read(d).range)).toEqual([{ from: 0, to: 500 }, { from: 500, to: 1000 }, { from: 1000, to: 1500 }, { from: 1500, to: 2000 }]);
    expect(comparable(m, mergedDir)).toEqual(comparable(w, wholeDir));
    expect(merged.code).toBe(whole.code);
    // The text summary too, but for the speed.
    const line = (ls: string[]) => ls.find((l) => l.startsWith('runs='))!.replace(/runs_per_s=\S+ /, '');
    expect(line(merged.lines)).toBe(line(whole.lines));
  });

  it('with violations (--broken ack-before-write, 300 runs, 3 shards): the same first violation and the same saved reproductions, replayable from the merge', { timeout: 300_000 }, async () => {
    const { whole, merged, wholeDir, mergedDir, shardDirs } = await wholeAndShards(['--runs', '300', '--seed', '5', '--broken', 'ack-before-write'], 3, 'broken');
    const w = read(wholeDir);
    const m = read(mergedDir);
    expect(w.violations).toBeGreaterThan(0);
    expect(w.repros.length).toBeGreaterThan(0);
    // Some shard saved a reproduction the whole run did not (a later first per invariant): the merge drops it.
    expect(shardDirs.flatMap((d) => read(d).repros).length).toBeGreaterThan(w.repros.length);
    expect(comparable(m, mergedDir)).toEqual(comparable(w, wholeDir));
    expect(whole.code).toBe(1);
    expect(merged.code).toBe(1);
    for (const r of w.repros) {
      const a = readFileSync(join(wholeDir, r.name), 'utf8').split(wholeDir).join('OUT');
      const b = readFileSync(join(mergedDir, r.name), 'utf8').split(mergedDir).join('OUT');
      expect(b).toBe(a);
    }
    for (const r of m.repros) expect(r.replay).toContain(join(mergedDir, r.name));
  });

  it('refuses shards that do not make one run space', () => {
    const part = (from: number, to: number, seed = 5): FastSummary => ({
      mode: 'fast', seed, range: { from, to }, runs: to - from, valid: to - from, violations: 0, unknown: 0, by_invariant: {}, runs_per_s: 1, saved: [], repros: [], first_violation_run: null, first_violation: null,
    });
    expect(() => mergeSummaries([part(0, 10), part(20, 30)])).toThrow(/runs 10\.\.19 are in no shard/);
    expect(() => mergeSummaries([part(0, 10), part(5, 30)])).toThrow(/runs 5\.\.9 are in two shards/);
    expect(() => mergeSummaries([part(0, 10), part(10, 30, 6)])).toThrow(/different explorations/);
    expect(mergeSummaries([part(10, 30), part(0, 10)]).range).toEqual({ from: 0, to: 30 });
  });
});
