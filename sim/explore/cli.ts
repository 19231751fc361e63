/**
 * `nsekit explore --runs N --seed S [--json] [--broken VARIANT] [--mode fast|real] [--compare] [--out DIR] [--no-shrink]`
 * Progress on stderr, a summary on stdout, each first failure per invariant
 * shrunk and saved with its replay command; with --json the last line is one
 * JSON object. `--mode real` runs every generated scenario with real
 * processes; `--compare` runs each in both modes and reports every verdict
 * difference (sim/explore/explore-real.ts). Exit codes: 0 no violation (and,
 * with --compare, no disagreement), 1 violations or disagreements found,
 * 4 harness error (bad arguments), 130 interrupted (SIGINT/SIGTERM; every
 * real run's processes killed first).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { badValue, intFlag, oneOf, parseFlags, reportCliError, str, usageError } from '../../src/cli/args.js';
import { BROKEN_VARIANTS, type BrokenVariant } from '../broken.js';
import { explore, type ExploreStats } from './explore.js';
import { fastSummary, printFastSummary, writeSummary } from './summary.js';
import { exploreReal, type RealExploreResult } from './explore-real.js';
import { EXPLORE_TRIGGER_TIMEOUT_MS } from './real.js';

export const EXPLORE_USAGE =
  'usage: nsekit explore [--runs N] [--seed S] [--json] [--broken VARIANT] [--mode fast|real] [--compare] [--out DIR] [--no-shrink] [--max-shrink-runs N] [--concurrency N]\n' +
  '                      [--trigger-timeout-ms N] [--run-timeout-s N] [--keep-runs] [--stop-at-first] [--from-run N] [--shard i/n]\n' +
  '       nsekit explore merge DIR... [--out DIR] [--json]\n' +
  '  --mode fast (default)   one process, virtual clock: ~50–300 runs/s\n' +
  '  --mode real             each scenario with real app/NSE processes (nsekit sim --mode real): seconds per run\n' +
  '                          (mostly waiting out triggers that never fire); a violation is shrunk in fast mode and the\n' +
  '                          shrunk file confirmed with real processes; harness errors are counted as unknown\n' +
  '  --compare               each scenario in both modes; every verdict difference is saved as a finding\n' +
  '  --concurrency N         runs at a time (fast: 4; real/compare: 2 real runs)\n' +
  '  --stop-at-first         fast: stop after the first run with a violation (shrunk and saved unless --no-shrink)\n' +
  '  --from-run N            fast: start at run N (runs N..runs-1, each with its usual seed)\n' +
  '  --shard i/n             fast: run the i-th of n contiguous slices of the --runs run space (needs --seed);\n' +
  '                          nsekit explore merge DIR... combines the shards\' --out dirs into the whole run\'s summary\n' +
  '  --out DIR               where summary.json and the saved reproductions go (default runs/explore/<time>)\n' +
  '  --json                  last stdout line: the summary as one JSON object (also OUT/summary.json)\n' +
  '  --no-progress           no progress bar on stderr\n' +
  `  --trigger-timeout-ms N  real runs: bound on one failpoint trigger (default ${EXPLORE_TRIGGER_TIMEOUT_MS}; nsekit sim alone: 15000)\n` +
  '  --run-timeout-s N       real runs: kill a run (its whole process group) after N s (default 60 + the trigger bound per triggered step)\n' +
  '  --keep-runs             real runs: keep the run directory of valid runs too\n' +
  `  VARIANT: ${BROKEN_VARIANTS.join(' | ')}\n` +
  'exit codes: 0 no violation, 1 violations (or --compare disagreements) found, 4 harness or usage error, 130 interrupted';

interface Args {
  runs: number;
  seed?: number;
  json: boolean;
  broken?: BrokenVariant;
  mode: 'fast' | 'real';
  compare: boolean;
  out?: string;
  shrink: boolean;
  maxShrinkRuns: number;
  concurrency?: number;
  triggerTimeoutMs?: number;
  runTimeoutS?: number;
  keepRuns: boolean;
  progress: boolean;
  stopAtFirst: boolean;
  fromRun: number;
  /** `--shard i/n`: runs [floor((i-1)·runs/n), floor(i·runs/n)) of the same run space (./merge.ts combines them). */
  shard?: { i: number; n: number };
}

/** Parses explore's argv; `null` for --help. Throws CLI_USAGE / CLI_BAD_VALUE (exit 4). */
export function parseArgs(argv: readonly string[]): Args | null {
  const p = parseFlags(argv, {
    json: 'switch', 'no-shrink': 'switch', 'no-progress': 'switch', compare: 'switch', 'keep-runs': 'switch', 'stop-at-first': 'switch',
    runs: 'value', seed: 'value', 'max-shrink-runs': 'value', concurrency: 'value', 'trigger-timeout-ms': 'value', 'run-timeout-s': 'value',
    'from-run': 'value', broken: 'value', mode: 'value', out: 'value', shard: 'value',
  });
  if (p.help) return null;
  const a: Args = {
    runs: intFlag(p, 'runs', 1) ?? 100,
    json: p.flags.json === true,
    mode: oneOf(p, 'mode', ['fast', 'real'] as const) ?? 'fast',
    compare: p.flags.compare === true,
    shrink: p.flags['no-shrink'] !== true,
    maxShrinkRuns: intFlag(p, 'max-shrink-runs') ?? 300,
    keepRuns: p.flags['keep-runs'] === true,
    progress: p.flags['no-progress'] !== true,
    stopAtFirst: p.flags['stop-at-first'] === true,
    fromRun: intFlag(p, 'from-run') ?? 0,
  };
  const seed = intFlag(p, 'seed');
  if (seed !== undefined) a.seed = seed;
  const conc = intFlag(p, 'concurrency', 1);
  if (conc !== undefined) a.concurrency = conc;
  const tt = intFlag(p, 'trigger-timeout-ms', 1);
  if (tt !== undefined) a.triggerTimeoutMs = tt;
  const rt = intFlag(p, 'run-timeout-s', 1);
  if (rt !== undefined) a.runTimeoutS = rt;
  const broken = oneOf(p, 'broken', BROKEN_VARIANTS);
  if (broken) a.broken = broken;
  const out = str(p, 'out');
  if (out !== undefined) a.out = out;
  const shard = str(p, 'shard');
  if (shard !== undefined) {
    const m = /^(\d+)\/(\d+)$/.exec(shard);
    const i = m ? Number(m[1]) : NaN, n = m ? Number(m[2]) : NaN;
    if (!(n >= 1 && i >= 1 && i <= n)) throw badValue('--shard', shard, 'i/n with 1 <= i <= n (e.g. 2/4)');
    if (a.mode !== 'fast' || a.compare) throw usageError('--shard runs in fast mode only');
    if (a.fromRun || a.stopAtFirst) throw usageError('--shard takes its own slice of the runs: not with --from-run or --stop-at-first');
    if (seed === undefined) throw usageError('--shard needs --seed: every shard must explore the same run space');
    a.shard = { i, n };
  }
  if (a.fromRun >= a.runs) throw badValue('--from-run', String(a.fromRun), `below --runs (${a.runs})`);
  return a;
}

function bar(done: number, total: number, s: ExploreStats): string {
  const w = 30;
  const fill = total ? Math.round((done / total) * w) : w;
  return `[${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${done}/${total} valid=${s.valid} violating=${s.violating}${s.unknown ? ` unknown=${s.unknown}` : ''}`;
}

function stamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-');
}

export async function runExploreCli(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s + '\n'),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  if (argv[0] === 'merge') return (await import('./merge.js')).runMergeCli(argv.slice(1), out, err);
  let a: Args | null;
  try {
    a = parseArgs(argv);
  } catch (e) {
    return reportCliError('explore', e, EXPLORE_USAGE, (s) => err(`${s}\n`), 'sim');
  }
  if (a === null) {
    out(EXPLORE_USAGE);
    return 0;
  }
  const seed = a.seed ?? Math.floor(Math.random() * 2 ** 31);
  const outDir = a.out ?? join('runs', 'explore', stamp());
  if (a.mode === 'real' || a.compare) return runRealCli(a, seed, outDir, out, err);
  // A shard takes a contiguous slice of the run space; the run seeds are those of a whole run.
  const from = a.shard ? Math.floor(((a.shard.i - 1) * a.runs) / a.shard.n) : a.fromRun;
  const to = a.shard ? Math.floor((a.shard.i * a.runs) / a.shard.n) : a.runs;
  out(`seed=${seed} runs=${a.runs} mode=fast${a.broken ? ` broken=${a.broken}` : ''}${a.shard ? ` shard=${a.shard.i}/${a.shard.n} (runs ${from}..${to - 1})` : ''} out=${outDir}`);
  const tty = process.stderr.isTTY === true;
  let last = -1;
  const r = await explore({
    runs: to,
    seed,
    outDir,
    shrink: a.shrink,
    maxShrinkRuns: a.maxShrinkRuns,
    concurrency: a.concurrency ?? 4,
    ...(a.stopAtFirst ? { stopOnFirstViolation: true } : {}),
    ...(from ? { fromRun: from } : {}),
    ...(a.broken ? { broken: a.broken } : {}),
    onProgress: (done, _total, s) => {
      if (!a.progress) return;
      const total = to - from;
      const pct = Math.floor((done / total) * 20);
      if (tty) err(`\r${bar(done, total, s)}`);
      else if (pct !== last || done === total) err(`${bar(done, total, s)}\n`);
      last = pct;
    },
  });
  if (a.progress && tty) err('\n');
  const summary = fastSummary(r, { seed, ...(a.broken ? { broken: a.broken } : {}), range: { from, to: from + r.runs }, ...(a.shard ? { shard: a.shard } : {}) });
  // Written even when nothing failed: the out dir the first line named always exists.
  writeSummary(outDir, summary);
  printFastSummary(summary, out);
  if (a.json) out(JSON.stringify(summary));
  return r.violating > 0 ? 1 : 0;
}

/** `--mode real` / `--compare`: real runs in their own process groups; SIGINT/SIGTERM kill them all first. */
async function runRealCli(a: Args, seed: number, outDir: string, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  const mode = a.compare ? 'compare' : 'real';
  const conc = a.concurrency ?? 2;
  const tt = a.triggerTimeoutMs ?? EXPLORE_TRIGGER_TIMEOUT_MS;
  out(`seed=${seed} runs=${a.runs} mode=${mode}${a.broken ? ` broken=${a.broken}` : ''} concurrency=${conc} trigger_timeout_ms=${tt} out=${outDir}`);
  const ac = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    err(`\nnsekit explore: ${sig}: killing the live real runs\n`);
    ac.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let r: RealExploreResult;
  try {
    r = await exploreReal({
      runs: a.runs,
      seed,
      compare: a.compare,
      outDir,
      shrink: a.shrink,
      maxShrinkRuns: a.maxShrinkRuns,
      concurrency: conc,
      triggerTimeoutMs: tt,
      ...(a.runTimeoutS !== undefined ? { runTimeoutMs: a.runTimeoutS * 1000 } : {}),
      keepRuns: a.keepRuns,
      signal: ac.signal,
      ...(a.broken ? { broken: a.broken } : {}),
      onProgress: (done, total, s, rec) => {
        if (!a.progress) return;
        const real = rec.real.valid === true ? 'valid' : rec.real.valid === false ? `INVALID(${rec.real.invariants.join(',')})` : `unknown(${rec.real.harness[0]?.slice(0, 80) ?? '?'}${rec.real.harness.length > 1 ? ` +${rec.real.harness.length - 1}` : ''})`;
        const fast = rec.fast ? ` fast=${rec.fast.category}${rec.fast.category !== (rec.real.valid === true ? 'valid' : rec.real.valid === 'unknown' ? 'unknown' : `invalid:${rec.real.invariants.join('+')}`) ? ' DISAGREE' : ''}` : '';
        err(`[${done}/${total}] run ${rec.run} seed=${rec.seed} real=${real}${fast} ${rec.real.seconds.toFixed(1)}s | valid=${s.valid} violating=${s.violating} unknown=${s.unknown}\n`);
      },
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const inv = Object.entries(r.byInvariant).map(([k, n]) => `${k}=${n}`).join(' ');
  const rs = r.realSecondsPerRun;
  out(
    `runs=${r.runs} valid=${r.valid} violating=${r.violating} unknown=${r.unknown} runs_per_s=${r.runsPerS.toFixed(3)} seconds=${r.seconds.toFixed(0)} ` +
      `real_s_per_run mean=${rs.mean} p50=${rs.p50} max=${rs.max} by_invariant: ${inv || 'none'}${r.interrupted ? ' INTERRUPTED' : ''}`,
  );
  if (r.fast) {
    const fi = Object.entries(r.fast.byInvariant).map(([k, n]) => `${k}=${n}`).join(' ');
    out(`fast mode, same scenarios: valid=${r.fast.valid} violating=${r.fast.violating} unknown=${r.fast.unknown}${fi ? ` by_invariant: ${fi}` : ''}`);
  }
  for (const u of r.unknownRuns) out(`unknown run ${u.run} (seed ${u.seed}): ${u.harness.slice(0, 3).join(' | ')}${u.harness.length > 3 ? ` (+${u.harness.length - 3})` : ''}`);
  for (const p of r.repros) {
    out(`saved ${p.original.path}: ${p.invariant} — ${p.detail} (run ${p.run}, real mode)`);
    out(`  replay: ${p.original.replay}`);
    if (!p.shrunk) {
      out(`  not shrunk: ${p.fastReproduces ? 'shrinking is off' : 'the fast mode does not show this violation on this scenario (seeds s, s+1, s+2): a fast/real difference'}`);
      continue;
    }
    const c = p.shrunk.confirmed;
    out(`saved ${p.shrunk.path}: shrunk in fast mode, steps ${p.shrunk.steps.from}→${p.shrunk.steps.to} (${p.shrunk.shrinkRuns} fast runs); real-mode confirmation: ${c === true ? 'reproduced' : c === false ? `NOT reproduced (real: ${p.shrunk.confirmRun.valid === true ? 'valid' : p.shrunk.confirmRun.invariants.join(',')})` : 'unknown (harness error)'}`);
    out(`  replay: ${p.shrunk.replay}`);
    out(`  fast:   ${p.shrunk.fastReplay}`);
  }
  if (a.compare) {
    out(`disagreements=${r.disagreements.length}${r.disagreements.length ? ` (${(['verdict', 'invariants', 'unknown'] as const).map((k) => `${k}=${r.disagreements.filter((d) => d.kind === k).length}`).join(' ')})` : ''}`);
    for (const d of r.disagreements) {
      const gu = (g: { i: number }[]) => (g.length ? g.map((x) => x.i).join(',') : '-');
      out(`disagree run ${d.run} (${d.kind}): fast=${d.fast.category} real=${d.real.category}; steps given up fast=[${gu(d.fast.givenUp)}] real=[${gu(d.real.givenUp)}]${d.sameStepsGivenUp ? ' (same)' : ''}; finding ${d.finding}`);
      out(`  fast: ${d.fast.replay}`);
      out(`  real: ${d.real.replay}`);
    }
  }
  const summary = {
    runs: r.runs,
    valid: r.valid,
    violations: r.violating,
    unknown: r.unknown,
    by_invariant: r.byInvariant,
    runs_per_s: Math.round(r.runsPerS * 1000) / 1000,
    seconds: Math.round(r.seconds),
    real_s_per_run: r.realSecondsPerRun,
    saved: r.saved,
    mode,
    seed,
    concurrency: r.concurrency,
    trigger_timeout_ms: r.triggerTimeoutMs,
    ...(a.broken ? { broken: a.broken } : {}),
    repros: r.repros.map((p) => ({
      invariant: p.invariant,
      path: p.original.path,
      replay: p.original.replay,
      fast_reproduces: p.fastReproduces,
      shrunk: p.shrunk ? { path: p.shrunk.path, replay: p.shrunk.replay, fast_replay: p.shrunk.fastReplay, steps: p.shrunk.steps, confirmed: p.shrunk.confirmed } : null,
    })),
    unknown_runs: r.unknownRuns.map((u) => ({ run: u.run, seed: u.seed, harness: u.harness, runDir: u.runDir })),
    ...(r.fast ? { fast: { valid: r.fast.valid, violations: r.fast.violating, unknown: r.fast.unknown, by_invariant: r.fast.byInvariant } } : {}),
    ...(a.compare
      ? {
          disagreements: r.disagreements.length,
          findings: r.disagreements.map((d) => ({
            run: d.run,
            seed: d.seed,
            kind: d.kind,
            fast: d.fast.category,
            real: d.real.category,
            same_steps_given_up: d.sameStepsGivenUp,
            fast_given_up: d.fast.givenUp.map((x) => x.i),
            real_given_up: d.real.givenUp.map((x) => x.i),
            file: d.file,
            finding: d.finding,
            fast_replay: d.fast.replay,
            real_replay: d.real.replay,
          })),
        }
      : {}),
    ...(r.interrupted ? { interrupted: true } : {}),
  };
  // Written even when nothing failed: the out dir the first line named always exists.
  writeSummary(outDir, summary);
  if (a.json) out(JSON.stringify(summary));
  if (r.interrupted) return 130;
  return r.violating > 0 || r.disagreements.length > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runExploreCli(process.argv.slice(2)).then((c) => process.exit(c), (e) => {
    process.stderr.write(`nsekit explore: harness error: ${(e as Error).stack ?? e}\n`);
    process.exit(4);
  });
}
