/**
 * `nsekit explore --mode real` and `nsekit explore --compare`: the fast
 * explorer's generator (same seed → same scenarios), each scenario run with
 * real processes (sim/explore/real.ts: `nsekit sim FILE --mode real` in its own
 * process group, bounded in time, at most `concurrency` at a time).
 *
 * - real: the first violation per invariant (in run order) is shrunk in fast
 *   mode (sim/explore/shrink.ts) — if the fast mode reproduces it at all — and
 *   the shrunk scenario is run with real processes again to confirm it; the
 *   original and the shrunk file are saved with their replay commands.
 * - compare: each scenario also runs in fast mode with the same seed; every
 *   verdict that differs between the modes (valid / invalid with a set of
 *   invariants / unknown) is a finding, saved with both verdicts and both
 *   replay commands.
 *
 * A real run that ends with a harness error (a trigger never fired, the world
 * failed, the run timed out) is `unknown`: neither valid nor a violation.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BrokenVariant } from '../broken.js';
import { replayCommand, runFast, type FastResult } from '../fast/run.js';
import { SCENARIO_SCHEMA_PATH, type Scenario } from '../scenario/index.js';
import type { ExploreStats } from './explore.js';
import { generateScenario, runSeed } from './generate.js';
import { defaultRunTimeoutMs, EXPLORE_TRIGGER_TIMEOUT_MS, RealRunner, type GivenUp, type RealRun } from './real.js';
import { shrinkScenario } from './shrink.js';

export interface RealExploreOptions {
  runs: number;
  seed: number;
  /** Also run each scenario in fast mode and report every verdict difference. */
  compare?: boolean;
  broken?: BrokenVariant;
  /** Reproductions, findings, the generated scenarios (`scenarios/`) and the real run directories (`runs/`). */
  outDir: string;
  /** Shrink (fast mode) and confirm (real mode) the first violation per invariant (default true). */
  shrink?: boolean;
  maxShrinkRuns?: number;
  /** Stop after the first saved reproduction. */
  stopOnFirst?: boolean;
  /** Real runs at a time (default 2). */
  concurrency?: number;
  /** Bound on one failpoint trigger in a real run (default 5 000 ms; `nsekit sim` alone: 15 000). */
  triggerTimeoutMs?: number;
  /** Bound on one real run (default: 60 s + the trigger bound per triggered step + waits). */
  runTimeoutMs?: number;
  /** Keep the run directories of valid runs too (default: only those of runs worth reading). */
  keepRuns?: boolean;
  /** Aborting kills every live run (its whole process group) and returns what was done. */
  signal?: AbortSignal;
  onProgress?: (done: number, total: number, stats: ExploreStats, rec: RunRecord) => void;
}

/** A verdict in one word: `valid`, `unknown`, or `invalid:inv1+inv2`. */
export type Category = string;

export interface ModeVerdict {
  category: Category;
  valid: true | false | 'unknown';
  invariants: string[];
  givenUp: GivenUp[];
  replay: string;
}

export interface RunRecord {
  run: number;
  seed: number;
  file: string;
  real: RealRun;
  fast?: ModeVerdict;
}

export interface Disagreement {
  run: number;
  seed: number;
  /** `verdict`: valid vs invalid; `invariants`: both invalid, other sets; `unknown`: one mode could not decide. */
  kind: 'verdict' | 'invariants' | 'unknown';
  fast: ModeVerdict;
  real: ModeVerdict & { harness: string[]; runDir: string | null; seconds: number };
  /** Both modes gave up the same steps (the unknown is the harness rule, not a different execution). */
  sameStepsGivenUp: boolean;
  file: string;
  finding: string;
}

export interface RealRepro {
  invariant: string;
  detail: string;
  run: number;
  original: { path: string; seed: number; replay: string; runDir: string | null };
  /** Whether runFast violates the same invariant on the original (seed, seed+1, seed+2). */
  fastReproduces: boolean;
  /** null when the fast mode does not reproduce it (nothing to shrink with) or shrinking is off. */
  shrunk: {
    path: string;
    seed: number;
    steps: { from: number; to: number };
    shrinkRuns: number;
    replay: string;
    fastReplay: string;
    /** The shrunk file run with real processes: same invariant violated (true), not (false), harness error ('unknown'). */
    confirmed: true | false | 'unknown';
    confirmRun: { valid: RealRun['valid']; invariants: string[]; runDir: string | null; harness: string[] };
  } | null;
}

export interface RealExploreResult extends ExploreStats {
  mode: 'real' | 'compare';
  runs: number;
  seconds: number;
  runsPerS: number;
  /** Wall seconds of each real exploration run: mean, median, max. */
  realSecondsPerRun: { mean: number; p50: number; max: number };
  concurrency: number;
  triggerTimeoutMs: number;
  firstViolationRun: number | null;
  saved: string[];
  repros: RealRepro[];
  /** Real runs with a harness error, with why. */
  unknownRuns: { run: number; seed: number; harness: string[]; runDir: string | null }[];
  /** compare: the fast mode's counts over the same scenarios. */
  fast?: ExploreStats;
  disagreements: Disagreement[];
  interrupted: boolean;
  /** Process groups of every real run (for leak checks). */
  pgids: number[];
}

const cat = (valid: true | false | 'unknown', invariants: string[]): Category =>
  valid === true ? 'valid' : valid === 'unknown' ? 'unknown' : `invalid:${invariants.join('+')}`;

function fastVerdict(r: FastResult, replay: string): ModeVerdict {
  const invariants = [...new Set(r.violations.map((v) => v.invariant))].sort();
  const valid = r.valid === true ? true : r.valid === false ? false : 'unknown';
  const givenUp = r.history
    .filter((o) => o.f === 'step' && o.type === 'fail')
    .map((o) => {
      const v = (o.value ?? {}) as { i?: number; do?: string };
      return { i: v.i ?? -1, ...(v.do ? { do: v.do } : {}), error: String((o as { error?: unknown }).error ?? '') };
    });
  return { category: cat(valid, invariants), valid, invariants, givenUp, replay };
}

function realVerdict(r: RealRun): ModeVerdict {
  return { category: cat(r.valid, r.invariants), valid: r.valid, invariants: r.invariants, givenUp: r.givenUp, replay: r.replay };
}

const schemaRef = (dir: string) => relative(resolve(dir), fileURLToPath(SCENARIO_SCHEMA_PATH));

function writeScenario(dir: string, name: string, s: Scenario, description: string, expect?: Scenario['expect']): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  const file: Scenario = {
    $schema: schemaRef(dir),
    name,
    description,
    ...(s.world ? { world: s.world } : {}),
    steps: s.steps,
    ...(expect ? { expect } : {}),
  };
  writeFileSync(path, JSON.stringify(file, null, 2) + '\n');
  return path;
}

export async function exploreReal(opts: RealExploreOptions): Promise<RealExploreResult> {
  const t0 = performance.now();
  const mode = opts.compare ? 'compare' : 'real';
  const conc = Math.max(1, opts.concurrency ?? 2);
  const tt = opts.triggerTimeoutMs ?? EXPLORE_TRIGGER_TIMEOUT_MS;
  const fastOpts = opts.broken ? { broken: opts.broken } : {};
  const runner = new RealRunner({ concurrency: conc, runsDir: join(opts.outDir, 'runs'), triggerTimeoutMs: tt, ...(opts.broken ? { broken: opts.broken } : {}) });
  const onAbort = () => void runner.killAll();
  opts.signal?.addEventListener('abort', onAbort);
  if (opts.signal?.aborted) onAbort();

  const stats: ExploreStats = { valid: 0, violating: 0, unknown: 0, byInvariant: {} };
  const fastStats: ExploreStats = { valid: 0, violating: 0, unknown: 0, byInvariant: {} };
  const repros: RealRepro[] = [];
  const saved: string[] = [];
  const disagreements: Disagreement[] = [];
  const unknownRuns: RealExploreResult['unknownRuns'] = [];
  const durations: number[] = [];
  const seen = new Set<string>();
  let first: number | null = null;
  let ran = 0;

  // Every run is queued at once; the runner starts `conc` of them at a time, in run order
  // (confirmation runs jump the queue). Results are taken in run order, so what is saved
  // does not depend on which run finished first.
  const scenDir = join(opts.outDir, 'scenarios');
  mkdirSync(scenDir, { recursive: true });
  const scenarios = new Map<number, Scenario>();
  const pending: Promise<RunRecord>[] = [];
  for (let i = 0; i < opts.runs; i++) {
    const seed = runSeed(opts.seed, i);
    const s = generateScenario(seed, `explore-${opts.seed}-${i}`);
    scenarios.set(i, s);
    const file = writeScenario(scenDir, s.name, s, `generated by nsekit explore --mode ${mode} (seed ${opts.seed}, run ${i}, run seed ${seed})`);
    pending.push(
      (async () => {
        const real = await runner.run(file, seed, opts.runTimeoutMs ?? defaultRunTimeoutMs(s, tt));
        return { run: i, seed, file, real };
      })(),
    );
  }

  let interrupted = false;
  try {
    for (let i = 0; i < pending.length; i++) {
      const rec = await pending[i]!;
      if (rec.real.aborted || runner.isAborted) break;
      // The fast side of a comparison: milliseconds, deterministic, same scenario and seed.
      if (opts.compare) rec.fast = fastVerdict(await runFast(scenarios.get(i)!, rec.seed, fastOpts), replayCommand(rec.file, rec.seed, opts.broken));
      ran++;
      durations.push(rec.real.seconds);
      const r = rec.real;
      if (r.valid === true) stats.valid++;
      else if (r.valid === 'unknown') {
        stats.unknown++;
        unknownRuns.push({ run: rec.run, seed: rec.seed, harness: r.harness, runDir: r.runDir });
      } else {
        stats.violating++;
        first ??= rec.run;
        for (const inv of r.invariants) stats.byInvariant[inv] = (stats.byInvariant[inv] ?? 0) + 1;
      }
      let keep = r.valid !== true;
      if (rec.fast) {
        const f = rec.fast;
        if (f.valid === true) fastStats.valid++;
        else if (f.valid === 'unknown') fastStats.unknown++;
        else {
          fastStats.violating++;
          for (const inv of f.invariants) fastStats.byInvariant[inv] = (fastStats.byInvariant[inv] ?? 0) + 1;
        }
        if (f.category !== realVerdict(r).category) {
          keep = true;
          disagreements.push(saveDisagreement(opts, scenarios.get(rec.run)!, rec));
        }
      }
      if (r.valid === false && opts.shrink !== false) {
        for (const inv of r.invariants) {
          if (seen.has(inv)) continue;
          seen.add(inv);
          const rp = await saveRepro(opts, runner, scenarios.get(rec.run)!, rec, inv, tt, fastOpts);
          repros.push(rp);
          saved.push(rp.original.path, ...(rp.shrunk ? [rp.shrunk.path] : []));
          if (runner.isAborted) break;
        }
      }
      if (!keep && !opts.keepRuns && r.runDir) rmSync(join(opts.outDir, 'runs', scenarios.get(rec.run)!.name), { recursive: true, force: true });
      opts.onProgress?.(ran, opts.runs, stats, rec);
      if (runner.isAborted || (opts.stopOnFirst && repros.length)) break;
    }
    interrupted = runner.isAborted;
  } finally {
    // Stopped early (first repro, SIGINT, or an exception here): nothing may keep running.
    await runner.killAll();
    await Promise.allSettled(pending);
    opts.signal?.removeEventListener('abort', onAbort);
  }

  const seconds = (performance.now() - t0) / 1000;
  const sorted = [...durations].sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    mode,
    ...stats,
    runs: ran,
    seconds,
    runsPerS: seconds > 0 ? ran / seconds : 0,
    realSecondsPerRun: {
      mean: round(durations.reduce((a, b) => a + b, 0) / Math.max(1, durations.length)),
      p50: round(sorted[Math.floor(sorted.length / 2)] ?? 0),
      max: round(sorted[sorted.length - 1] ?? 0),
    },
    concurrency: conc,
    triggerTimeoutMs: tt,
    firstViolationRun: first,
    saved,
    repros,
    unknownRuns,
    ...(opts.compare ? { fast: fastStats } : {}),
    disagreements,
    interrupted,
    pgids: runner.pgids,
  };
}

function saveDisagreement(opts: RealExploreOptions, s: Scenario, rec: RunRecord): Disagreement {
  const f = rec.fast!;
  const r = rec.real;
  const rv = realVerdict(r);
  const kind: Disagreement['kind'] = f.valid === 'unknown' || r.valid === 'unknown' ? 'unknown' : f.valid !== r.valid ? 'verdict' : 'invariants';
  const same = (a: GivenUp[], b: GivenUp[]) => a.map((x) => x.i).join(',') === b.map((x) => x.i).join(',');
  const name = `disagree-run${rec.run}`;
  const fastReplay = replayCommand(join(opts.outDir, `${name}.json`), rec.seed, opts.broken);
  const realReplayCmd = r.replay.replace(rec.file, join(opts.outDir, `${name}.json`));
  const file = writeScenario(
    opts.outDir,
    name,
    s,
    `nsekit explore --compare (seed ${opts.seed}, run ${rec.run}): fast ${f.category}, real ${rv.category}. Replay: ${fastReplay} / ${realReplayCmd}`,
  );
  const d: Disagreement = {
    run: rec.run,
    seed: rec.seed,
    kind,
    fast: { ...f, replay: fastReplay },
    real: { ...rv, replay: realReplayCmd, harness: r.harness, runDir: r.runDir, seconds: Math.round(r.seconds * 10) / 10 },
    sameStepsGivenUp: same(f.givenUp, r.givenUp),
    file,
    finding: join(opts.outDir, `${name}.finding.json`),
  };
  writeFileSync(d.finding, JSON.stringify(d, null, 2) + '\n');
  return d;
}

async function saveRepro(
  opts: RealExploreOptions,
  runner: RealRunner,
  s: Scenario,
  rec: RunRecord,
  invariant: string,
  tt: number,
  fastOpts: { broken?: BrokenVariant },
): Promise<RealRepro> {
  const r = rec.real;
  const detail = r.violations.find((v) => v.invariant === invariant)?.detail ?? '';
  const name = `${invariant}-run${rec.run}`;
  const origPath = join(opts.outDir, `${name}.json`);
  const origReplay = r.replay.replace(rec.file, origPath);
  writeScenario(opts.outDir, name, s, `Found by nsekit explore --mode real (seed ${opts.seed}, run ${rec.run}${opts.broken ? `, broken variant ${opts.broken}` : ''}): ${detail}. Replay: ${origReplay}`, {
    valid: false,
    violations: r.invariants,
  });
  const rp: RealRepro = { invariant, detail, run: rec.run, original: { path: origPath, seed: rec.seed, replay: origReplay, runDir: r.runDir }, fastReproduces: false, shrunk: null };

  // Shrinking runs in fast mode: only if the fast mode shows the same violation at all.
  let fastSeed: number | null = null;
  for (let k = 0; k < 3 && fastSeed === null; k++) {
    const sd = (rec.seed + k) >>> 0;
    if ((await runFast(s, sd, fastOpts)).violations.some((v) => v.invariant === invariant)) fastSeed = sd;
  }
  rp.fastReproduces = fastSeed !== null;
  if (fastSeed === null || opts.shrink === false) return rp;

  const sh = await shrinkScenario(s, fastSeed, invariant, { ...fastOpts, maxRuns: opts.maxShrinkRuns ?? 300 });
  const again = await runFast(sh.scenario, sh.seed, fastOpts);
  const shrunkName = `${name}-shrunk`;
  const shrunkPath = join(opts.outDir, `${shrunkName}.json`);
  const fastReplay = replayCommand(shrunkPath, sh.seed, opts.broken);
  const fastInv = [...new Set(again.violations.map((v) => v.invariant))].sort();
  writeScenario(opts.outDir, shrunkName, sh.scenario, `Shrunk (fast mode) from ${name}: ${detail}. Being confirmed with real processes.`, { valid: false, violations: fastInv });
  const c = await runner.run(shrunkPath, sh.seed, opts.runTimeoutMs ?? defaultRunTimeoutMs(sh.scenario, tt), 1);
  const confirmed: true | false | 'unknown' = c.aborted || c.valid === 'unknown' ? 'unknown' : c.invariants.includes(invariant);
  // The file says what the real run showed, so `nsekit sim FILE --mode real` checks it.
  writeScenario(
    opts.outDir,
    shrunkName,
    sh.scenario,
    `Minimal reproduction (shrunk in fast mode, ${sh.from}→${sh.to} steps) of ${invariant} found by nsekit explore --mode real (seed ${opts.seed}, run ${rec.run}): ${detail}. ` +
      `Real-mode confirmation: ${confirmed === true ? 'reproduced' : confirmed === false ? `NOT reproduced (real verdict ${cat(c.valid, c.invariants)})` : 'unknown (harness error)'}. ` +
      `Replay: ${c.replay} / ${fastReplay}`,
    { valid: false, violations: confirmed === true ? c.invariants : fastInv },
  );
  rp.shrunk = {
    path: shrunkPath,
    seed: sh.seed,
    steps: { from: sh.from, to: sh.to },
    shrinkRuns: sh.runs,
    replay: c.replay,
    fastReplay,
    confirmed,
    confirmRun: { valid: c.valid, invariants: c.invariants, runDir: c.runDir, harness: c.harness },
  };
  return rp;
}
