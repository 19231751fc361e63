/**
 * `nsekit explore --runs N --seed S [--json] [--broken VARIANT] [--mode fast|real] [--out DIR] [--no-shrink]`
 * Progress bar on stderr, a summary on stdout, each first failure per
 * invariant shrunk and saved with its replay command; with --json the last
 * line is one JSON object. Exit codes: 0 no violation, 1 violations found,
 * 4 harness error (bad arguments, unsupported mode).
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { BROKEN_VARIANTS, parseBroken, type BrokenVariant } from '../broken.js';
import { explore, type ExploreStats } from './explore.js';

const USAGE =
  'usage: nsekit explore [--runs N] [--seed S] [--json] [--broken VARIANT] [--mode fast|real] [--out DIR] [--no-shrink] [--max-shrink-runs N] [--concurrency N]\n' +
  `  VARIANT: ${BROKEN_VARIANTS.join(' | ')}`;

interface Args {
  runs: number;
  seed?: number;
  json: boolean;
  broken?: BrokenVariant;
  mode: 'fast' | 'real';
  out?: string;
  shrink: boolean;
  maxShrinkRuns: number;
  concurrency: number;
  progress: boolean;
}

function parseArgs(argv: string[]): Args | string {
  const a: Args = { runs: 100, json: false, mode: 'fast', shrink: true, maxShrinkRuns: 300, concurrency: 4, progress: true };
  const int = (flag: string, v: string | undefined): number | string =>
    v !== undefined && /^\d+$/.test(v) ? Number(v) : `${flag} needs a non-negative integer, got ${v ?? 'nothing'}`;
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--json') a.json = true;
    else if (x === '--no-shrink') a.shrink = false;
    else if (x === '--no-progress') a.progress = false;
    else if (x === '-h' || x === '--help') return USAGE;
    else if (['--runs', '--seed', '--max-shrink-runs', '--concurrency'].includes(x)) {
      const n = int(x, argv[++i]);
      if (typeof n === 'string') return n;
      if (x === '--runs') a.runs = n;
      else if (x === '--seed') a.seed = n;
      else if (x === '--concurrency') a.concurrency = Math.max(1, n);
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
  if (a.mode === 'real') {
    // Real-process runs take ~0.5 s each; exploration is what the fast mode is for. Replay a
    // saved reproduction in the real mode with `nsekit sim <file> --seed N` instead.
    err('nsekit explore: --mode real is not supported: explore in fast mode, then replay the saved file with `nsekit sim <file> --seed N`\n');
    if (a.json) out(JSON.stringify({ runs: 0, valid: 0, violations: 0, runs_per_s: 0, saved: [], mode: 'real', error: 'mode real not supported' }));
    return 4;
  }
  const seed = a.seed ?? Math.floor(Math.random() * 2 ** 31);
  const outDir = a.out ?? join('runs', 'explore', stamp());
  out(`seed=${seed} runs=${a.runs} mode=fast${a.broken ? ` broken=${a.broken}` : ''} out=${outDir}`);
  const tty = process.stderr.isTTY === true;
  let last = -1;
  const r = await explore({
    runs: a.runs,
    seed,
    outDir,
    shrink: a.shrink,
    maxShrinkRuns: a.maxShrinkRuns,
    concurrency: a.concurrency,
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
    }));
  }
  return r.violating > 0 ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runExploreCli(process.argv.slice(2)).then((c) => process.exit(c), (e) => {
    process.stderr.write(`nsekit explore: harness error: ${(e as Error).stack ?? e}\n`);
    process.exit(4);
  });
}
