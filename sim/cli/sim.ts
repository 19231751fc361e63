import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isNsekitError, NsekitError } from '../../src/core/errors.js';
import { deriveParams, paramsLine, randomSeed, runScenario, type RunResult } from '../orchestrator/index.js';
import { BROKEN_VARIANTS, isBrokenVariant, type BrokenVariant } from '../broken.js';
import { loadScenario, type Scenario } from '../scenario/index.js';

export const CATALOGUE_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));

/**
 * Detector scenarios (sim/scenarios/detectors/) model a *bug* on purpose — e.g. a process
 * frozen while it holds the lock — to prove the harness records the violation and the
 * system still recovers. They expect `valid: false`, so they are kept out of the catalogue,
 * whose every scenario must be valid on our implementation; they resolve by name all the same.
 */
export const DETECTORS_DIR = join(CATALOGUE_DIR, 'detectors');

const jsonNames = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort() : [];

/** Names of the catalogue scenarios (sim/scenarios/*.json, without .json). */
export function catalogueNames(): string[] {
  return jsonNames(CATALOGUE_DIR);
}

/** Names of the detector scenarios (sim/scenarios/detectors/*.json). */
export function detectorNames(): string[] {
  return jsonNames(DETECTORS_DIR);
}

/** A scenario file path, or a catalogue name. */
export function resolveScenario(arg: string): { scenario: Scenario; source: string } {
  if (existsSync(arg) && arg.endsWith('.json')) return { scenario: loadScenario(arg), source: arg };
  const name = basename(arg).replace(/\.json$/, '');
  for (const dir of [CATALOGUE_DIR, DETECTORS_DIR]) {
    const path = join(dir, `${name}.json`);
    if (existsSync(path)) return { scenario: loadScenario(path), source: name };
  }
  throw new NsekitError('SIM_NO_SCENARIO', `no scenario file ${arg} and no catalogue scenario '${name}' (catalogue: ${catalogueNames().join(', ')}; detectors: ${detectorNames().join(', ')})`);
}

/**
 * Both modes' CLI: resolve the target, or report a harness error (exit 4) on stderr and,
 * with --json, as the last stdout line. `extra` adds fields to that JSON (e.g. the mode).
 */
export function resolveForCli(
  a: { target?: string; json: boolean; seed?: number },
  out: (s: string) => void,
  err: (s: string) => void,
  extra: Record<string, unknown> = {},
): { scenario: Scenario; source: string } | null {
  try {
    return resolveScenario(a.target!);
  } catch (e) {
    const msg = (e as Error).message; // an NsekitError's message already starts with its code
    err(`nsekit sim: ${msg}`);
    if (a.json) out(JSON.stringify({ valid: 'unknown', seed: a.seed ?? null, violations: [], events: 0, ...extra, error: msg }));
    return null;
  }
}

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
    if (mode === 'fast') return (await import('../fast/cli.js')).runFastScenarioCli(argv, out, err);
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
