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
import { BROKEN_VARIANTS, parseBroken, type BrokenVariant } from '../broken.js';
import { explore, type ExploreStats } from './explore.js';
import { exploreReal, type RealExploreResult } from './explore-real.js';
import { EXPLORE_TRIGGER_TIMEOUT_MS } from './real.js';

const USAGE =
  'usage: nsekit explore [--runs N] [--seed S] [--json] [--broken VARIANT] [--mode fast|real] [--compare] [--out DIR] [--no-shrink] [--max-shrink-runs N] [--concurrency N]\n' +
  '                      [--trigger-timeout-ms N] [--run-timeout-s N] [--keep-runs] [--stop-at-first] [--from-run N]\n' +
  '  --mode fast (default)   one process, virtual clock: ~50–300 runs/s\n' +
  '  --mode real             each scenario with real app/NSE processes (nsekit sim --mode real): seconds per run\n' +
  '                          (mostly waiting out triggers that never fire); a violation is shrunk in fast mode and the\n' +
  '                          shrunk file confirmed with real processes; harness errors are counted as unknown\n' +
  '  --compare               each scenario in both modes; every verdict difference is saved as a finding\n' +
  '  --concurrency N         runs at a time (fast: 4; real/compare: 2 real runs)\n' +
  '  --stop-at-first         fast: stop after the first run with a violation (shrunk and saved unless --no-shrink)\n' +
  '  --from-run N            fast: start at run N (runs N..runs-1, each with its usual seed)\n' +
  `  --trigger-timeout-ms N  real runs: bound on one failpoint trigger (default ${EXPLORE_TRIGGER_TIMEOUT_MS}; nsekit sim alone: 15000)\n` +
  '  --run-timeout-s N       real runs: kill a run (its whole process group) after N s (default 60 + the trigger bound per triggered step)\n' +
  '  --keep-runs             real runs: keep the run directory of valid runs too\n' +
  `  VARIANT: ${BROKEN_VARIANTS.join(' | ')}`;

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
}

function parseArgs(argv: string[]): Args | string {
  const a: Args = { runs: 100, json: false, mode: 'fast', compare: false, shrink: true, maxShrinkRuns: 300, keepRuns: false, progress: true, stopAtFirst: false, fromRun: 0 };
  const int = (flag: string, v: string | undefined): number | string =>
    v !== undefined && /^\d+$/.test(v) ? Number(v) : `${flag} needs a non-negative integer, got ${v ?? 'nothing'}`;
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--json') a.json = true;
    else if (x === '--no-shrink') a.shrink = false;
    else if (x === '--no-progress') a.progress = false;
    else if (x === '--compare') a.compare = true;
    else if (x === '--keep-runs') a.keepRuns = true;
    else if (x === '--stop-at-first') a.stopAtFirst = true;
    else if (x === '-h' || x === '--help') return USAGE;
    else if (['--runs', '--seed', '--max-shrink-runs', '--concurrency', '--trigger-timeout-ms', '--run-timeout-s', '--from-run'].includes(x)) {
      const n = int(x, argv[++i]);
      if (typeof n === 'string') return n;
      if (x === '--runs') a.runs = n;
      else if (x === '--seed') a.seed = n;
      else if (x === '--concurrency') a.concurrency = Math.max(1, n);
      else if (x === '--trigger-timeout-ms') a.triggerTimeoutMs = Math.max(1, n);
      else if (x === '--run-timeout-s') a.runTimeoutS = Math.max(1, n);
      else if (x === '--from-run') a.fromRun = n;
      else a.maxShrinkRuns = n;
    } else if (x === '--broken') {
      try {
        a.broken = parseBroken(argv[++i]);
      } catch (e) {
        return (e as Error).message;
      }
    } else if (x === '--mode') {
      const m = argv[++i];
      if (m !== 'fast' && m !== 'real') return `--mode must be fast or real, got ${m ?? 'nothing'}`;
      a.mode = m;
    } else if (x === '--out') {
      const v = argv[++i];
      if (!v) return '--out needs a directory';
      a.out = v;
    } else return `unknown argument ${x}`;
  }
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
  const a = parseArgs(argv);
  if (typeof a === 'string') {
    err(a === USAGE ? `${USAGE}\n` : `nsekit explore: ${a}\n${USAGE}\n`);
    return a === USAGE ? 0 : 4;
  }
  const seed = a.seed ?? Math.floor(Math.random() * 2 ** 31);
  const outDir = a.out ?? join('runs', 'explore', stamp());
  if (a.mode === 'real' || a.compare) return runRealCli(a, seed, outDir, out, err);
  out(`seed=${seed} runs=${a.runs} mode=fast${a.broken ? ` broken=${a.broken}` : ''} out=${outDir}`);
  const tty = process.stderr.isTTY === true;
  let last = -1;
  const r = await explore({
    runs: a.runs,
    seed,
    outDir,
    shrink: a.shrink,
    maxShrinkRuns: a.maxShrinkRuns,
    concurrency: a.concurrency ?? 4,
    ...(a.stopAtFirst ? { stopOnFirstViolation: true } : {}),
    ...(a.fromRun ? { fromRun: a.fromRun } : {}),
    ...(a.broken ? { broken: a.broken } : {}),
    onProgress: (done, total, s) => {
      if (!a.progress) return;
      const pct = Math.floor((done / total) * 20);
      if (tty) err(`\r${bar(done, total, s)}`);
      else if (pct !== last || done === total) err(`${bar(done, total, s)}\n`);
      last = pct;
    },
  });
  if (a.progress && tty) err('\n');
  const inv = Object.entries(r.byInvariant).map(([k, n]) => `${k}=${n}`).join(' ');
  out(`runs=${r.runs} valid=${r.valid} violating=${r.violating}${r.unknown ? ` unknown=${r.unknown}` : ''} runs_per_s=${r.runsPerS.toFixed(1)}${inv ? ` by_invariant: ${inv}` : ''}`);
  if (r.firstViolationRun !== null) out(`first violation at run ${r.firstViolationRun}`);
  for (const s of r.saved) {
    out(`saved ${s.path}: ${s.invariant} — ${s.detail} (steps ${s.steps.from}→${s.steps.to}, ${s.shrinkRuns} shrink runs, found by mode ${s.mode})`);
    out(`  replay: ${s.replay}`);
  }
  if (a.json) {
    out(JSON.stringify({
      runs: r.runs,
      valid: r.valid,
      violations: r.violating,
      runs_per_s: Math.round(r.runsPerS * 10) / 10,
      saved: r.saved.map((s) => s.path),
      mode: 'fast',
      seed,
      ...(a.broken ? { broken: a.broken } : {}),
      by_invariant: r.byInvariant,
      repros: r.saved.map((s) => ({ path: s.path, invariant: s.invariant, replay: s.replay })),
      first_violation_run: r.firstViolationRun,
      ...(r.firstViolation ? { first_violation: r.firstViolation } : {}),
    }));
  }
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
      `real_s_per_run mean=${rs.mean} p50=${rs.p50} max=${rs.max}${inv ? ` by_invariant: ${inv}` : ''}${r.interrupted ? ' INTERRUPTED' : ''}`,
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
  if (a.json) {
    out(JSON.stringify({
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
    }));
  }
  if (r.interrupted) return 130;
  return r.violating > 0 || r.disagreements.length > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runExploreCli(process.argv.slice(2)).then((c) => process.exit(c), (e) => {
    process.stderr.write(`nsekit explore: harness error: ${(e as Error).stack ?? e}\n`);
    process.exit(4);
  });
}
