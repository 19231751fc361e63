/**
 * `node --import tsx sim/mutations/run.ts [--json] [--only ID,…] [--ref COMMIT] [--budget N] [--seed S] [--concurrency N] [--check]`
 *
 * Hunts every mutation of the table (sim/mutations/table.ts) in a copy of the repository:
 * fast rows with `nsekit explore --runs BUDGET --seed S --stop-at-first --no-shrink` run by
 * the copy's own bin/nsekit.js; the first violating run is compared with the same run of the
 * unmutated code (this process's modules, or a copy of `--ref`), and if that one shows the same invariants (a violation of the current code,
 * not of the mutation) the hunt goes on from the next run (`--from-run`). Real rows run their
 * catalogue scenario once with real processes (`nsekit sim NAME --seed S`), mutated and not.
 * Prints one line per row (or, with --json, one JSON object per row and a summary line);
 * `--check` exits 1 when a row's outcome differs from the figures recorded in the table.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyMutation, copyRepo, type RepoCopy } from './apply.js';
import { OPEN_MUTATIONS } from './open-rows.js';
import { MUTATION_RUN_BUDGET, MUTATIONS, type Mutation } from './table.js';

export interface HuntResult {
  id: string;
  file: string;
  mode: 'fast' | 'real';
  seed: number;
  expect: string[];
  caught: boolean;
  /** Fast: the explore run index of the catch; real: 0 when the one run caught it. */
  firstRun: number | null;
  /** Invariants the mutated run violated and the unmutated one did not. */
  caughtBy: string[];
  /** Violations of the current code met on the way (runs whose invariants the unmutated code shares). */
  skipped: { run: number; invariants: string[] }[];
  detail?: string;
  seconds: number;
  error?: string;
}

export interface HuntOptions {
  /** Copy this commit instead of the working tree. */
  ref?: string;
  budget?: number;
  /** Overrides the row's seed. */
  seed?: number;
  /** Lanes per explore process (default 4). */
  lanes?: number;
  /**
   * What to compare with: an unmutated copy, or 'in-process' — this process's own modules run the
   * same generated scenario (the working tree, so only without `ref`). Default: in-process
   * without `ref`, else a copy of `ref` made and removed per call.
   */
  baseline?: RepoCopy | 'in-process';
  /** Per-process timeout (ms, default 10 minutes). */
  timeoutMs?: number;
}

interface Spawned {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runNode(args: string[], timeoutMs: number): Promise<Spawned> {
  return new Promise((resolve, reject) => {
    const cwd = mkdtempSync(join(tmpdir(), 'nsekit-mutation-cwd-'));
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += String(d)));
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(cwd, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

function lastJson(s: Spawned, what: string): Record<string, any> {
  const lines = s.stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const l = lines[i]!.trim();
    if (!l.startsWith('{')) continue;
    try {
      return JSON.parse(l) as Record<string, any>;
    } catch {
      break;
    }
  }
  throw new Error(`${what}: no JSON line (exit ${s.code}): ${(s.stderr || s.stdout).slice(-600)}`);
}

interface FirstViolation {
  run: number;
  invariants: string[];
  details: string[];
}

/** `nsekit explore` in `dir`: the first violating run from `fromRun` (null: none before `runs`). */
async function exploreFirst(dir: string, seed: number, fromRun: number, runs: number, lanes: number, timeoutMs: number): Promise<FirstViolation | null> {
  const out = mkdtempSync(join(tmpdir(), 'nsekit-mutation-out-'));
  try {
    const args = [join(dir, 'bin', 'nsekit.js'), 'explore', '--runs', String(runs), '--seed', String(seed), '--from-run', String(fromRun), '--stop-at-first', '--no-shrink', '--no-progress', '--json', '--out', out, '--concurrency', String(lanes)];
    const r = lastJson(await runNode(args, timeoutMs), `explore in ${dir}`);
    const fv = r.first_violation as FirstViolation | undefined;
    return fv ? { run: fv.run, invariants: fv.invariants, details: fv.details } : null;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Per baseline and seed: the unmutated verdict of single runs (invariants violated). */
const baselineRuns = new Map<RepoCopy | 'in-process', Map<string, string[]>>();

/** Run `run` of exploration `seed` as explore does it, in this process (sim/explore/explore.ts). */
async function inProcessRun(seed: number, run: number): Promise<string[]> {
  const [{ runFast }, { generateScenario, runSeed }] = await Promise.all([import('../fast/run.js'), import('../explore/generate.js')]);
  const s = runSeed(seed, run);
  const r = await runFast(generateScenario(s, `explore-${seed}-${run}`), s);
  return [...new Set(r.violations.map((v) => v.invariant))];
}

async function baselineRun(b: RepoCopy | 'in-process', seed: number, run: number, lanes: number, timeoutMs: number): Promise<string[]> {
  let m = baselineRuns.get(b);
  if (!m) baselineRuns.set(b, (m = new Map()));
  const k = `${seed}:${run}`;
  if (!m.has(k)) {
    if (b === 'in-process') m.set(k, await inProcessRun(seed, run));
    else m.set(k, (await exploreFirst(b.dir, seed, run, run + 1, lanes, timeoutMs))?.invariants ?? []);
  }
  return m.get(k)!;
}

/** `nsekit sim NAME --seed S --json` (real mode) in `dir`: the invariants violated. */
async function simReal(dir: string, scenario: string, seed: number, timeoutMs: number): Promise<{ invariants: string[]; details: string[] }> {
  const out = mkdtempSync(join(tmpdir(), 'nsekit-mutation-out-'));
  try {
    const r = lastJson(await runNode([join(dir, 'bin', 'nsekit.js'), 'sim', scenario, '--seed', String(seed), '--json', '--out', out], timeoutMs), `sim ${scenario} in ${dir}`);
    const vs = (r.violations ?? []) as { invariant: string; detail: string }[];
    return { invariants: [...new Set(vs.map((v) => v.invariant))], details: vs.map((v) => `${v.invariant}: ${v.detail}`) };
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** Hunts one mutation (see the file comment). Never throws: a harness problem is `error`. */
export async function hunt(m: Mutation, opts: HuntOptions = {}): Promise<HuntResult> {
  const t0 = performance.now();
  const seed = opts.seed ?? m.seed;
  const budget = opts.budget ?? MUTATION_RUN_BUDGET;
  const lanes = opts.lanes ?? 4;
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const mode = m.mode ?? 'fast';
  const res: HuntResult = { id: m.id, file: m.file, mode, seed, expect: m.expect, caught: false, firstRun: null, caughtBy: [], skipped: [], seconds: 0 };
  const copy = copyRepo({ ...(opts.ref ? { ref: opts.ref } : {}), prefix: `nsekit-mutation-${m.id}-` });
  const ownBaseline = opts.baseline || !opts.ref ? null : copyRepo({ ref: opts.ref, prefix: 'nsekit-mutation-baseline-' });
  const baseline: RepoCopy | 'in-process' = opts.baseline ?? ownBaseline ?? 'in-process';
  // The real rows run the unmutated scenario with real processes: they need a directory.
  const realBase = mode === 'real' && baseline === 'in-process' ? copyRepo({ prefix: 'nsekit-mutation-baseline-' }) : null;
  try {
    applyMutation(copy.dir, m);
    if (mode === 'real') {
      const baseDir = realBase?.dir ?? (baseline as RepoCopy).dir;
      const [mut, base] = await Promise.all([simReal(copy.dir, m.scenario!, seed, timeoutMs), simReal(baseDir, m.scenario!, seed, timeoutMs)]);
      const fresh = mut.invariants.filter((x) => !base.invariants.includes(x));
      if (base.invariants.length) res.skipped.push({ run: 0, invariants: base.invariants });
      if (fresh.length) {
        res.caught = true;
        res.firstRun = 0;
        res.caughtBy = fresh;
        res.detail = mut.details.find((d) => fresh.some((f) => d.startsWith(`${f}:`)));
      }
    } else {
      let from = 0;
      while (from < budget) {
        const fv = await exploreFirst(copy.dir, seed, from, budget, lanes, timeoutMs);
        if (!fv) break;
        const base = await baselineRun(baseline, seed, fv.run, lanes, timeoutMs);
        const fresh = fv.invariants.filter((x) => !base.includes(x));
        if (fresh.length) {
          res.caught = true;
          res.firstRun = fv.run;
          res.caughtBy = fresh;
          res.detail = fv.details[fv.invariants.indexOf(fresh[0]!)];
          break;
        }
        res.skipped.push({ run: fv.run, invariants: fv.invariants });
        from = fv.run + 1;
      }
    }
  } catch (e) {
    res.error = (e as Error).message;
  } finally {
    copy.remove();
    ownBaseline?.remove();
    realBase?.remove();
  }
  res.seconds = Math.round((performance.now() - t0) / 100) / 10;
  return res;
}

/** Hunts `rows`, `concurrency` at a time (one shared unmutated copy); results in table order. */
export async function huntAll(rows: readonly Mutation[], opts: HuntOptions & { concurrency?: number; onResult?: (r: HuntResult) => void } = {}): Promise<HuntResult[]> {
  const own = !opts.baseline && opts.ref ? copyRepo({ ref: opts.ref, prefix: 'nsekit-mutation-baseline-' }) : null;
  const baseline: RepoCopy | 'in-process' = opts.baseline ?? own ?? 'in-process';
  const results: HuntResult[] = new Array(rows.length);
  let next = 0;
  try {
    const worker = async () => {
      while (next < rows.length) {
        const i = next++;
        results[i] = await hunt(rows[i]!, { ...opts, baseline });
        opts.onResult?.(results[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 2) }, worker));
  } finally {
    own?.remove();
  }
  return results;
}

/** Does a result agree with the figures recorded in the table? (null: it does) */
export function disagreement(m: Mutation, r: HuntResult): string | null {
  if (r.error) return `harness error: ${r.error}`;
  if (r.firstRun !== m.firstRun) return `first run ${r.firstRun ?? 'none'}, recorded ${m.firstRun ?? 'none'}`;
  const a = [...r.caughtBy].sort().join(',');
  const b = [...m.caughtBy].sort().join(',');
  if (a !== b) return `caught by ${a || 'nothing'}, recorded ${b || 'nothing'}`;
  return null;
}

function line(r: HuntResult): string {
  const what = r.error ? `ERROR ${r.error}` : r.caught ? `caught by ${r.caughtBy.join(',')} at run ${r.firstRun}` : 'NOT caught';
  const skipped = r.skipped.length ? ` (skipped ${r.skipped.length} run(s) the unmutated code also violates: ${r.skipped.map((s) => `${s.run}:${s.invariants.join('+')}`).join(' ')})` : '';
  return `${r.id.padEnd(30)} ${r.mode.padEnd(4)} seed=${r.seed} expect=${r.expect.join(',').padEnd(14)} ${what}${skipped} ${r.seconds}s`;
}

async function main(argv: string[]): Promise<number> {
  let json = false;
  let check = false;
  let only: string[] | null = null;
  let open = false;
  const opts: HuntOptions & { concurrency?: number } = {};
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${x} needs a value`);
      return v;
    };
    if (x === '--json') json = true;
    else if (x === '--check') check = true;
    else if (x === '--open') open = true;
    else if (x === '--only') only = val().split(',');
    else if (x === '--ref') opts.ref = val();
    else if (x === '--budget') opts.budget = Number(val());
    else if (x === '--seed') opts.seed = Number(val());
    else if (x === '--concurrency') opts.concurrency = Number(val());
    else if (x === '--lanes') opts.lanes = Number(val());
    else {
      process.stderr.write(`usage: node --import tsx sim/mutations/run.ts [--json] [--only ID,…] [--ref COMMIT] [--budget N] [--seed S] [--concurrency N] [--lanes N] [--check] [--open]\n  --open: hunt the rows not caught yet (./open-rows.ts) instead of the table\n`);
      return x === '--help' || x === '-h' ? 0 : 4;
    }
  }
  const all = open ? OPEN_MUTATIONS : MUTATIONS;
  const rows = only ? all.filter((m) => only!.includes(m.id)) : all;
  if (only && rows.length !== only.length) {
    process.stderr.write(`unknown mutation id(s): ${only.filter((id) => !all.some((m) => m.id === id)).join(', ')}\n`);
    return 4;
  }
  const t0 = performance.now();
  const results = await huntAll(rows, { ...opts, onResult: (r) => process.stdout.write((json ? JSON.stringify(r) : line(r)) + '\n') });
  const caught = results.filter((r) => r.caught).length;
  const disagree = results.map((r, i) => [r.id, disagreement(rows[i]!, r)] as const).filter(([, d]) => d !== null);
  const seconds = Math.round((performance.now() - t0) / 100) / 10;
  if (json) process.stdout.write(JSON.stringify({ rows: results.length, caught, notCaught: results.filter((r) => !r.caught).map((r) => r.id), errors: results.filter((r) => r.error).length, seconds, ...(check ? { disagreements: Object.fromEntries(disagree) } : {}) }) + '\n');
  else {
    process.stdout.write(`${caught}/${results.length} caught in ${seconds}s\n`);
    if (check) for (const [id, d] of disagree) process.stdout.write(`differs from the table: ${id}: ${d}\n`);
  }
  if (results.some((r) => r.error)) return 4;
  return check && disagree.length ? 1 : 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main(process.argv.slice(2)).then((c) => process.exit(c), (e) => {
    process.stderr.write(`sim/mutations/run.ts: ${(e as Error).stack ?? e}\n`);
    process.exit(4);
  });
}
