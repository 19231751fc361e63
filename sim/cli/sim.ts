import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deriveParams, paramsLine, randomSeed, runScenario, type RunResult } from '../orchestrator/index.js';
import { BROKEN_VARIANTS, isBrokenVariant, type BrokenVariant } from '../broken.js';
import type { Scenario } from '../scenario/index.js';

export { CATALOGUE_DIR, DETECTORS_DIR, catalogueNames, detectorNames, resolveScenario, resolveForCli } from './resolve.js';
import { resolveForCli } from './resolve.js';

const USAGE = 'usage: nsekit sim <scenario.json|catalogue-name> [--seed N] [--json] [--out DIR] [--progress] [--broken VARIANT] [--trigger-timeout-ms N]';

/** The real runner's bound on waiting for one failpoint trigger (RunOptions.triggerTimeoutMs). */
export const DEFAULT_TRIGGER_TIMEOUT_MS = 15_000;

interface Args {
  target?: string;
  seed?: number;
  json: boolean;
  out: string;
  progress: boolean;
  broken?: BrokenVariant;
  triggerTimeoutMs?: number;
}

function parseArgs(argv: string[]): Args | string {
  const a: Args = { json: false, out: 'runs', progress: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--json') a.json = true;
    else if (x === '--progress') a.progress = true;
    else if (x === '--seed' || x === '--out' || x === '--broken' || x === '--trigger-timeout-ms') {
      const v = argv[++i];
      if (v === undefined) return `${x} needs a value`;
      if (x === '--out') a.out = v;
      else if (x === '--trigger-timeout-ms') {
        if (!/^\d+$/.test(v) || Number(v) < 1) return `--trigger-timeout-ms must be a positive integer, got ${v}`;
        a.triggerTimeoutMs = Number(v);
      }
      else if (x === '--broken') {
        if (!isBrokenVariant(v)) return `--broken must be one of ${BROKEN_VARIANTS.join(', ')}`;
        a.broken = v;
      }
      else if (!/^\d+$/.test(v)) return `--seed must be a non-negative integer, got ${v}`;
      else a.seed = Number(v);
    } else if (x === '-h' || x === '--help') return USAGE;
    else if (x.startsWith('-')) return `unknown option ${x}`;
    else if (a.target === undefined) a.target = x;
    else return `unexpected argument ${x}`;
  }
  return a.target ? a : 'missing scenario';
}

/**
 * `nsekit sim`: run one scenario in real-process mode. Exit codes: 0 valid,
 * 1 safety violation, 2 unknown, 3 liveness failure, 4 harness error (bad
 * arguments, invalid scenario, world failed to start).
 */
export async function runSimCli(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'), err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> {
  // `--mode fast|real` (default real): fast = the deterministic single-process mode (sim/fast).
  const mi = argv.indexOf('--mode');
  if (mi >= 0) {
    const mode = argv[mi + 1];
    if (mode === 'fast') return (await import('./fast.js')).runFastScenarioCli(argv, out, err);
    if (mode !== 'real') {
      err(`nsekit sim: --mode must be fast or real, got ${mode ?? 'nothing'}\n${USAGE}`);
      return 4;
    }
    argv = [...argv.slice(0, mi), ...argv.slice(mi + 2)];
  }
  const a = parseArgs(argv);
  if (typeof a === 'string') {
    err(a === USAGE ? USAGE : `nsekit sim: ${a}\n${USAGE}`);
    return a === USAGE ? 0 : 4;
  }
  const resolved = resolveForCli(a, out, err);
  if (!resolved) return 4;
  const { scenario, source } = resolved;
  const live = a.progress || process.stderr.isTTY === true;
  const seed = a.seed ?? randomSeed();
  // First line, before anything runs: the seed and every derived parameter.
  out(paramsLine({ ...deriveParams(scenario, seed).params, ...(a.broken ? { broken: a.broken } : {}) }));
  const r: RunResult = await runScenario(scenario, {
    seed,
    outDir: a.out,
    source,
    ...(a.broken ? { broken: a.broken } : {}),
    ...(a.triggerTimeoutMs !== undefined ? { triggerTimeoutMs: a.triggerTimeoutMs } : {}),
    onProgress: (line) => {
      if (live) process.stderr.write(process.stderr.isTTY ? `\r\x1b[K${line}` : `${line}\n`);
    },
  });
  if (live && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  for (const v of r.verdicts) {
    out(`${v.valid === true ? 'PASS' : v.valid === false ? 'FAIL' : 'UNKNOWN'} ${v.invariant}${v.notes.length ? ` (${v.notes.join('; ')})` : ''}`);
    for (const x of v.violations) out(`  - ${x.detail} [ops ${x.ops.join(',')}]`);
  }
  for (const hErr of r.harnessErrors) out(`HARNESS ${hErr.split('\n')[0]}`);
  if (r.missingHits.length) out(`COVERAGE missing: ${r.missingHits.join(', ')}`);
  out(`expect: ${r.expectMet ? 'met' : `NOT met (${r.expectProblems.join('; ')})`}`);
  out(`verdict: ${r.valid === true ? 'valid' : r.valid === false ? 'INVALID' : 'unknown'} exit=${r.exitCode} events=${r.events} run=${r.runDir}`);
  // A run with another trigger bound is replayed with the same bound: a step given up earlier runs earlier.
  const tt = a.triggerTimeoutMs !== undefined && a.triggerTimeoutMs !== DEFAULT_TRIGGER_TIMEOUT_MS ? ` --trigger-timeout-ms ${a.triggerTimeoutMs}` : '';
  const replay = `${r.replay}${tt}`;
  if (r.violations.length) out(`replay: ${replay}`);
  if (a.json) {
    const violations = r.violations.map((v) => ({ ...v, replay }));
    const harness = r.harnessErrors.map((x) => x.split('\n')[0]);
    out(JSON.stringify({ valid: r.valid, seed: r.seed, violations, events: r.events, exitCode: r.exitCode, expectMet: r.expectMet, hits: r.hits, runDir: r.runDir, harness }));
  }
  return r.exitCode;
}

// `tsx sim/cli/sim.ts …` runs it directly.
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runSimCli(process.argv.slice(2)).then((code) => process.exit(code), (e) => {
    process.stderr.write(`nsekit sim: harness error: ${(e as Error).stack ?? e}\n`);
    process.exit(4);
  });
}
