/**
 * The exploration loop behind `nsekit explore`: N generated scenarios, each
 * run in fast mode with its own seed (derived from the exploration seed), the
 * failing ones shrunk and saved as scenario files with their replay command.
 * One saved reproduction per (invariant) first found, so a run of 1000 does
 * not write 1000 near-identical files.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrokenVariant } from '../broken.js';
import { replayCommand, runFast } from '../fast/run.js';
import { SCENARIO_SCHEMA_PATH, type Scenario } from '../scenario/index.js';
import { generateScenario, runSeed } from './generate.js';
import { shrinkScenario } from './shrink.js';

export interface ExploreOptions {
  runs: number;
  seed: number;
  broken?: BrokenVariant;
  /** Where reproductions go; created on the first save. */
  outDir: string;
  /** Shrink and save failing runs (default true). */
  shrink?: boolean;
  /** Fast runs the shrinker may spend per reproduction (default 300). */
  maxShrinkRuns?: number;
  /** Stop after the first saved reproduction (tests, CI). */
  stopOnFirst?: boolean;
  /** Stop after the first run with a violation, saved or not (the mutation table: sim/mutations). */
  stopOnFirstViolation?: boolean;
  /** First run index (default 0): runs fromRun..runs-1, each with its usual seed runSeed(seed, i). */
  fromRun?: number;
  /** Shrink and save only these invariants (others are still counted). */
  only?: readonly string[];
  /** Runs executed at a time in this process (default 4); results do not depend on it. */
  concurrency?: number;
  onProgress?: (done: number, total: number, stats: ExploreStats) => void;
}

export interface ExploreStats {
  valid: number;
  /** Runs with at least one violation. */
  violating: number;
  unknown: number;
  /** Runs violating each invariant. */
  byInvariant: Record<string, number>;
}

export interface SavedRepro {
  path: string;
  invariant: string;
  detail: string;
  run: number;
  seed: number;
  steps: { from: number; to: number };
  shrinkRuns: number;
  replay: string;
  mode: 'fast';
}

export interface ExploreResult extends ExploreStats {
  runs: number;
  seconds: number;
  runsPerS: number;
  saved: SavedRepro[];
  /** Index of the first run with a violation, or null. */
  firstViolationRun: number | null;
  /** That run: its seed, the invariants it violated and their first details. */
  firstViolation: { run: number; seed: number; invariants: string[]; details: string[] } | null;
}

export async function explore(opts: ExploreOptions): Promise<ExploreResult> {
  const stats: ExploreStats = { valid: 0, violating: 0, unknown: 0, byInvariant: {} };
  const saved: SavedRepro[] = [];
  const seen = new Set<string>();
  let first: number | null = null;
  let firstViolation: ExploreResult['firstViolation'] = null;
  let ran = 0;
  let busy = 0; // ms spent running the N generated scenarios (shrinking excluded from runs/s)
  let shrinking = 0;
  const lanes = Math.max(1, opts.concurrency ?? 4);
  const t0 = performance.now();
  for (let base = Math.max(0, opts.fromRun ?? 0); base < opts.runs; base += lanes) {
    // A batch runs concurrently (runs share nothing, each stays deterministic); results are
    // then taken in run order, so stats and saved reproductions do not depend on `lanes`.
    const idx = Array.from({ length: Math.min(lanes, opts.runs - base) }, (_, k) => base + k);
    const batch = await Promise.all(
      idx.map(async (i) => {
        const seed = runSeed(opts.seed, i);
        const s = generateScenario(seed, `explore-${opts.seed}-${i}`);
        return { i, seed, s, r: await runFast(s, seed, opts.broken ? { broken: opts.broken } : {}) };
      }),
    );
    busy = performance.now() - t0 - shrinking;
    let stop = false;
    for (const { i, seed, s, r } of batch) {
      ran++;
      if (r.valid === true) stats.valid++;
      else if (r.valid === 'unknown') stats.unknown++;
      const bad = [...new Set(r.violations.map((v) => v.invariant))];
      if (bad.length) {
        stats.violating++;
        first ??= i;
        firstViolation ??= { run: i, seed, invariants: bad, details: bad.map((inv) => r.violations.find((x) => x.invariant === inv)!.detail) };
        for (const inv of bad) stats.byInvariant[inv] = (stats.byInvariant[inv] ?? 0) + 1;
      }
      for (const inv of bad) {
        if (opts.shrink === false || seen.has(inv) || (opts.only && !opts.only.includes(inv))) continue;
        seen.add(inv);
        const v = r.violations.find((x) => x.invariant === inv)!;
        const ts = performance.now();
        saved.push(await save(opts, s, seed, i, inv, v.detail));
        shrinking += performance.now() - ts;
      }
      opts.onProgress?.(ran, opts.runs, stats);
      if ((opts.stopOnFirst && saved.length) || (opts.stopOnFirstViolation && bad.length)) {
        stop = true;
        break;
      }
    }
    if (stop) break;
  }
  const seconds = busy / 1000;
  return { ...stats, runs: ran, seconds, runsPerS: seconds > 0 ? ran / seconds : 0, saved, firstViolationRun: first, firstViolation };
}

async function save(opts: ExploreOptions, s: Scenario, seed: number, run: number, invariant: string, detail: string): Promise<SavedRepro> {
  const sh = await shrinkScenario(s, seed, invariant, { ...(opts.broken ? { broken: opts.broken } : {}), maxRuns: opts.maxShrinkRuns ?? 300 });
  // The shrunk scenario's own verdict, with the seed it reproduces with.
  seed = sh.seed;
  const again = await runFast(sh.scenario, seed, opts.broken ? { broken: opts.broken } : {});
  const v = again.violations.find((x) => x.invariant === invariant);
  const name = `${invariant}-run${run}`;
  mkdirSync(opts.outDir, { recursive: true });
  const path = join(opts.outDir, `${name}.json`);
  const replay = replayCommand(path, seed, opts.broken);
  const file: Scenario = {
    $schema: relative(resolve(opts.outDir), fileURLToPath(SCENARIO_SCHEMA_PATH)),
    name,
    description: `Minimal reproduction found by nsekit explore (seed ${opts.seed}, run ${run}${opts.broken ? `, broken variant ${opts.broken}` : ''}): ${v?.detail ?? detail}. Replay: ${replay}`,
    ...(sh.scenario.world ? { world: sh.scenario.world } : {}),
    steps: sh.scenario.steps,
    expect: { valid: false, violations: again.verdicts.filter((x) => x.valid === false).map((x) => x.invariant) },
  };
  writeFileSync(path, JSON.stringify(file, null, 2) + '\n');
  return { path, invariant, detail: v?.detail ?? detail, run, seed, steps: { from: sh.from, to: sh.to }, shrinkRuns: sh.runs, replay, mode: 'fast' };
}
