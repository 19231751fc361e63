/**
 * What `nsekit explore` (fast mode) writes to OUT/summary.json — always, a run that found
 * nothing included — and prints as its `--json` line; and how shard summaries combine
 * (`--shard i/n` + `explore merge`, docs/fast-mode.md) into the summary one whole run
 * prints. A whole run saves the first run per invariant in run order; shards cover
 * contiguous ranges of the same run space, so the merged first per invariant is the
 * shard-first with the lowest run index: the same reproduction, shrunk the same way.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrokenVariant } from '../broken.js';
import type { ExploreResult } from './explore.js';

export interface ReproEntry {
  /** File name in the out dir (`<invariant>-run<N>.json`). */
  name: string;
  path: string;
  invariant: string;
  detail: string;
  run: number;
  seed: number;
  steps: { from: number; to: number };
  shrink_runs: number;
  replay: string;
}

export interface FastSummary {
  mode: 'fast';
  seed: number;
  broken?: BrokenVariant;
  /** Runs this summary covers: [from, to) of the run space (a whole run: [0, runs)). */
  range: { from: number; to: number };
  shard?: { i: number; n: number };
  runs: number;
  valid: number;
  violations: number;
  unknown: number;
  /** Runs violating each invariant; `{}` when none. */
  by_invariant: Record<string, number>;
  runs_per_s: number;
  saved: string[];
  repros: ReproEntry[];
  first_violation_run: number | null;
  first_violation: ExploreResult['firstViolation'];
}

export function fastSummary(r: ExploreResult, o: { seed: number; broken?: BrokenVariant; range: { from: number; to: number }; shard?: { i: number; n: number } }): FastSummary {
  return {
    mode: 'fast',
    seed: o.seed,
    ...(o.broken ? { broken: o.broken } : {}),
    range: o.range,
    ...(o.shard ? { shard: o.shard } : {}),
    runs: r.runs,
    valid: r.valid,
    violations: r.violating,
    unknown: r.unknown,
    by_invariant: sortKeys(r.byInvariant),
    runs_per_s: Math.round(r.runsPerS * 10) / 10,
    saved: r.saved.map((s) => s.path),
    repros: r.saved.map((s) => ({
      name: `${s.invariant}-run${s.run}.json`, path: s.path, invariant: s.invariant, detail: s.detail, run: s.run, seed: s.seed, steps: s.steps, shrink_runs: s.shrinkRuns, replay: s.replay,
    })),
    first_violation_run: r.firstViolationRun,
    first_violation: r.firstViolation,
  };
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
}

export function writeSummary(outDir: string, s: unknown): string {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, 'summary.json');
  writeFileSync(path, JSON.stringify(s, null, 2) + '\n');
  return path;
}

/**
 * Shard summaries → the whole run's summary. Refuses shards of different explorations
 * (seed, variant), overlapping ranges or a gap; `relocate` maps a shard's repro to where
 * the merge put its file (path and replay).
 */
export function mergeSummaries(parts: readonly FastSummary[], relocate: (r: ReproEntry) => ReproEntry = (r) => r): FastSummary {
  if (!parts.length) throw new Error('nothing to merge');
  const sorted = [...parts].sort((a, b) => a.range.from - b.range.from);
  const first = sorted[0]!;
  let at = 0;
  for (const p of sorted) {
    if (p.seed !== first.seed || (p.broken ?? null) !== (first.broken ?? null)) {
      throw new Error(`shards of different explorations: seed ${first.seed}${first.broken ? ` broken ${first.broken}` : ''} and seed ${p.seed}${p.broken ? ` broken ${p.broken}` : ''}`);
    }
    if (p.range.from !== at) throw new Error(p.range.from < at ? `runs ${p.range.from}..${at - 1} are in two shards` : `runs ${at}..${p.range.from - 1} are in no shard (a shard is missing)`);
    at = p.range.to;
  }
  const byInv: Record<string, number> = {};
  for (const p of sorted) for (const [k, n] of Object.entries(p.by_invariant)) byInv[k] = (byInv[k] ?? 0) + n;
  // The first reproduction per invariant in run order, as one whole run saves them.
  const repros: ReproEntry[] = [];
  for (const r of sorted.flatMap((p) => p.repros)) if (!repros.some((x) => x.invariant === r.invariant)) repros.push(relocate(r));
  const fv = sorted.find((p) => p.first_violation_run !== null);
  const secondsTotal = sorted.reduce((t, p) => t + (p.runs_per_s > 0 ? p.runs / p.runs_per_s : 0), 0);
  const runs = sorted.reduce((t, p) => t + p.runs, 0);
  return {
    mode: 'fast',
    seed: first.seed,
    ...(first.broken ? { broken: first.broken } : {}),
    range: { from: 0, to: at },
    runs,
    valid: sorted.reduce((t, p) => t + p.valid, 0),
    violations: sorted.reduce((t, p) => t + p.violations, 0),
    unknown: sorted.reduce((t, p) => t + p.unknown, 0),
    by_invariant: sortKeys(byInv),
    // Runs per second of one machine running every shard in turn.
    runs_per_s: secondsTotal > 0 ? Math.round((runs / secondsTotal) * 10) / 10 : 0,
    saved: repros.map((r) => r.path),
    repros,
    first_violation_run: fv?.first_violation_run ?? null,
    first_violation: fv?.first_violation ?? null,
  };
}

/** The text summary a fast exploration prints (the same for a whole run and a merge). */
export function printFastSummary(s: FastSummary, out: (line: string) => void): void {
  const inv = Object.entries(s.by_invariant).map(([k, n]) => `${k}=${n}`).join(' ');
  out(`runs=${s.runs} valid=${s.valid} violating=${s.violations}${s.unknown ? ` unknown=${s.unknown}` : ''} runs_per_s=${s.runs_per_s.toFixed(1)} by_invariant: ${inv || 'none'}`);
  if (s.first_violation_run !== null) out(`first violation at run ${s.first_violation_run}`);
  for (const r of s.repros) {
    out(`saved ${r.path}: ${r.invariant} — ${r.detail} (steps ${r.steps.from}→${r.steps.to}, ${r.shrink_runs} shrink runs, found by mode fast)`);
    out(`  replay: ${r.replay}`);
  }
}
