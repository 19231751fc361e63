/**
 * `nsekit explore --mode real` and `--compare`: real-process runs (each `nsekit sim --mode real`
 * in its own process group), counts that add up, findings saved with both replay commands,
 * and no process left behind — after a normal end, a run timeout or SIGINT.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { runExploreCli } from '../../sim/explore/cli.js';
import { loadScenario } from '../../sim/scenario/index.js';

const BIN = fileURLToPath(new URL('../../bin/nsekit.js', import.meta.url));
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'nsekit-explore-real-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Live processes that belong to a run under `dir` (the sim child names it on its command line, app/NSE in their config env). */
function liveUnder(dir: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z/.test(stat)) continue; // a zombie is dead
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const env = readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (cmd.includes(dir) || env.includes(dir)) out.push(`${pid} ${cmd.slice(0, 120)}`);
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return out;
}

/** Child processes of this test process (none may be left). */
function ourChildren(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === process.pid && f[0] !== 'Z') out.push(`${pid} ${stat.slice(0, 80)}`);
    } catch {
      /* gone */
    }
  }
  return out;
}

async function cli(argv: string[]): Promise<{ code: number; out: string[]; err: string; last: Record<string, any> }> {
  const out: string[] = [];
  let err = '';
  const code = await runExploreCli(argv, (s) => out.push(s), (s) => (err += s));
  return { code, out, err, last: JSON.parse(out[out.length - 1]!) };
}

describe('nsekit explore --mode real', () => {
  it('--runs 3 --seed 1: JSON summary whose counts add up, replayable repros, no live child process', async () => {
    const dir = tmp();
    const { code, out, err, last } = await cli(['--mode', 'real', '--runs', '3', '--seed', '1', '--json', '--out', dir, '--trigger-timeout-ms', '3000', '--max-shrink-runs', '60']);
    expect(out[0]).toBe(`seed=1 runs=3 mode=real concurrency=2 trigger_timeout_ms=3000 out=${dir}`);
    expect(Object.keys(last)).toEqual(expect.arrayContaining(['runs', 'valid', 'violations', 'unknown', 'by_invariant', 'runs_per_s', 'saved', 'repros', 'mode']));
    expect(last.mode).toBe('real');
    expect(last.runs).toBe(3);
    expect(last.valid + last.violations + last.unknown).toBe(3);
    expect(last.runs_per_s).toBeGreaterThan(0);
    expect(code).toBe(last.violations > 0 ? 1 : 0);
    expect(err).toMatch(/\[3\/3\] run 2 seed=\d+ real=/);
    // Every unknown run says why (a harness line), and its run directory is kept.
    for (const u of last.unknown_runs) {
      expect(u.harness.length).toBeGreaterThan(0);
      if (u.runDir) expect(existsSync(u.runDir)).toBe(true);
    }
    for (const r of last.repros) {
      expect(r.replay).toMatch(/^nsekit sim \S+\.json --seed \d+ --mode real --trigger-timeout-ms 3000$/);
      expect(loadScenario(r.path).expect?.violations).toContain(r.invariant);
      if (r.shrunk) {
        expect(r.shrunk.replay).toMatch(/--mode real/);
        expect(['boolean', 'string']).toContain(typeof r.shrunk.confirmed);
        expect(existsSync(r.shrunk.path)).toBe(true);
      }
    }
    expect(liveUnder(dir)).toEqual([]);
    expect(ourChildren()).toEqual([]);
  }, 120_000);

  it('a run over its time bound is killed with its whole process group and counted unknown', async () => {
    const dir = tmp();
    const { code, last } = await cli(['--mode', 'real', '--runs', '2', '--seed', '1', '--json', '--out', dir, '--run-timeout-s', '3', '--no-progress']);
    expect(last.runs).toBe(2);
    expect(last.unknown).toBe(2);
    expect(last.valid + last.violations).toBe(0);
    for (const u of last.unknown_runs) expect(u.harness.join(' ')).toMatch(/run killed after 3 s/);
    expect(code).toBe(0);
    expect(liveUnder(dir)).toEqual([]);
    expect(ourChildren()).toEqual([]);
  }, 60_000);

  it('SIGINT kills every live real run and exits 130', async () => {
    const dir = tmp();
    const child = spawn(process.execPath, [BIN, 'explore', '--mode', 'real', '--runs', '4', '--seed', '1', '--out', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    // Wait until real app processes of the runs are up (their config names the out dir).
    const t0 = Date.now();
    while (liveUnder(dir).filter((x) => !x.includes(' explore ')).length < 3 && Date.now() - t0 < 30_000) await new Promise((r) => setTimeout(r, 200));
    expect(liveUnder(dir).length).toBeGreaterThanOrEqual(3);
    child.kill('SIGINT');
    const code = await exited;
    expect(code).toBe(130);
    expect(stderr).toMatch(/SIGINT: killing the live real runs/);
    expect(liveUnder(dir)).toEqual([]);
  }, 60_000);
});

describe('nsekit explore --compare', () => {
  it('--runs 3 --seed 1: both modes per scenario; every disagreement saved with both verdicts and replays', async () => {
    const dir = tmp();
    const { code, last } = await cli(['--compare', '--runs', '3', '--seed', '1', '--json', '--out', dir, '--trigger-timeout-ms', '3000']);
    expect(last.mode).toBe('compare');
    expect(last.runs).toBe(3);
    expect(last.valid + last.violations + last.unknown).toBe(3);
    expect(last.fast.valid + last.fast.violations + last.fast.unknown).toBe(3);
    expect(last.disagreements).toBe(last.findings.length);
    for (const d of last.findings) {
      // Printed on purpose: each one is analysed (fast/real world difference or a real bug).
      console.log(`explore --compare disagreement: run ${d.run} ${d.kind}: fast=${d.fast} real=${d.real} given up fast=[${d.fast_given_up}] real=[${d.real_given_up}]\n  ${d.fast_replay}\n  ${d.real_replay}`);
      expect(d.fast).not.toBe(d.real);
      expect(d.fast_replay).toBe(`nsekit sim ${d.file} --seed ${d.seed} --mode fast`);
      expect(d.real_replay).toBe(`nsekit sim ${d.file} --seed ${d.seed} --mode real --trigger-timeout-ms 3000`);
      expect(existsSync(d.file)).toBe(true);
      const f = JSON.parse(readFileSync(d.finding, 'utf8'));
      expect(f.fast.category).toBe(d.fast);
      expect(f.real.category).toBe(d.real);
      if (d.real === 'unknown' || d.fast === 'unknown') expect(d.kind).toBe('unknown');
    }
    expect(code).toBe(last.violations > 0 || last.fast.violations > 0 || last.disagreements > 0 ? 1 : 0);
    expect(liveUnder(dir)).toEqual([]);
    expect(ourChildren()).toEqual([]);
  }, 120_000);
});
