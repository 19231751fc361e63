import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runExploreCli } from '../../sim/explore/cli.js';
import { explore } from '../../sim/explore/explore.js';
import { generateScenario, runSeed } from '../../sim/explore/generate.js';
import { shrinkScenario } from '../../sim/explore/shrink.js';
import { runFast } from '../../sim/fast/index.js';
import { loadScenario, scenario, validateScenario } from '../../sim/scenario/index.js';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'nsekit-explore-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('explore: generation', () => {
  it('same seed → same scenarios; different seeds → different ones; all valid', () => {
    const a = Array.from({ length: 50 }, (_, i) => generateScenario(runSeed(123, i)));
    const b = Array.from({ length: 50 }, (_, i) => generateScenario(runSeed(123, i)));
    expect(JSON.stringify(b)).toBe(JSON.stringify(a));
    const c = Array.from({ length: 50 }, (_, i) => generateScenario(runSeed(124, i)));
    expect(JSON.stringify(c)).not.toBe(JSON.stringify(a));
    for (const s of [...a, ...c]) expect(validateScenario(s).ok).toBe(true);
    // Swarm: the runs differ in which fault kinds they use at all.
    const kinds = new Set(a.map((s) => [...new Set(s.steps.map((st) => st.do))].sort().join(',')));
    expect(kinds.size).toBeGreaterThan(20);
  });

  it('same seed → same verdicts and counts, whatever the number of concurrent lanes', async () => {
    const x = await explore({ runs: 25, seed: 77, outDir: tmp(), shrink: false, concurrency: 1 });
    const y = await explore({ runs: 25, seed: 77, outDir: tmp(), shrink: false, concurrency: 4 });
    expect({ ...y, seconds: 0, runsPerS: 0 }).toEqual({ ...x, seconds: 0, runsPerS: 0 });
    expect(x.runs).toBe(25);
    expect(x.valid + x.violating + x.unknown).toBeGreaterThanOrEqual(25);
  }, 120_000);
});

describe('explore: shrinking', () => {
  it('shrinks a failing scenario to fewer steps that still violate the same invariant', async () => {
    // A freeze inside the lock is a 0xdead10cc; the padding around it is noise.
    const s = scenario('padded').world({ queues: 2, senders: 2 })
      .background('app').send({ count: 2, queue: 1, sender: 1 }).wait(5).partition().heal()
      .expire('app').send({ count: 3 }).when('nse', 'lock.acquired').freeze('nse').restartRelay().send({ count: 1, queue: 1 }).build();
    const before = await runFast(s, 5);
    expect(before.violations.map((v) => v.invariant)).toContain('no-dead10cc');
    const r = await shrinkScenario(s, 5, 'no-dead10cc', { maxRuns: 200 });
    expect(r.to).toBeLessThan(r.from);
    expect(r.runs).toBeLessThanOrEqual(200);
    const after = await runFast(r.scenario, 5);
    expect(after.violations.map((v) => v.invariant)).toContain('no-dead10cc');
    expect(r.scenario.steps.some((st) => st.do === 'freeze')).toBe(true);
  }, 120_000);
});

describe('nsekit explore CLI', () => {
  it('--json last line has runs, valid, violations, runs_per_s, saved, mode; saved files replay', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const dir = tmp();
    const code = await runExploreCli(['--runs', '40', '--seed', '3', '--json', '--out', dir, '--max-shrink-runs', '60'], (s) => out.push(s), (s) => err.push(s));
    expect(out[0]).toBe(`seed=3 runs=40 mode=fast out=${dir}`);
    const last = JSON.parse(out[out.length - 1]!);
    expect(Object.keys(last)).toEqual(expect.arrayContaining(['runs', 'valid', 'violations', 'runs_per_s', 'saved', 'mode']));
    expect(last.runs).toBe(40);
    expect(last.mode).toBe('fast');
    expect(last.runs_per_s).toBeGreaterThan(0);
    expect(code).toBe(last.violations > 0 ? 1 : 0);
    expect(err.join('')).toMatch(/\] 40\/40 valid=/); // progress bar
    for (const r of last.repros as { path: string; invariant: string; replay: string }[]) {
      const seed = Number(/--seed (\d+)/.exec(r.replay)![1]);
      const s = loadScenario(r.path);
      expect(JSON.parse(readFileSync(r.path, 'utf8')).expect.violations).toContain(r.invariant);
      const again = await runFast(s, seed);
      expect(again.violations.map((v) => v.invariant)).toContain(r.invariant);
    }
  }, 180_000);

  it('bad arguments exit 4; --help describes --mode real and --compare', async () => {
    const err: string[] = [];
    expect(await runExploreCli(['--runs', 'x'], () => {}, (s) => err.push(s))).toBe(4);
    expect(await runExploreCli(['--broken', 'nope'], () => {}, (s) => err.push(s))).toBe(4);
    expect(await runExploreCli(['--mode', 'slow', '--runs', '1'], () => {}, (s) => err.push(s))).toBe(4);
    expect(await runExploreCli(['--mode', 'real', '--trigger-timeout-ms', 'soon'], () => {}, (s) => err.push(s))).toBe(4);
    expect(err.join('')).toMatch(/CLI_BAD_VALUE: --broken must be one of ack-before-write, .*, got "nope"/);
    expect(err.join('')).toMatch(/CLI_BAD_VALUE: --mode must be one of fast, real, got "slow"/);
    const help: string[] = [];
    expect(await runExploreCli(['--help'], (s) => help.push(s), () => {})).toBe(0);
    expect(help.join('')).toMatch(/--mode real .*real app\/NSE processes/);
    expect(help.join('')).toMatch(/--compare .*both modes/);
  });
});
