import { fileURLToPath } from 'node:url';
import { deriveParams, paramsLine, randomSeed, runScenario, type RunResult } from '../orchestrator/index.js';
import { reportCliError } from '../../src/cli/args.js';
import { harnessLine, parseSimArgs, SIM_USAGE, type SimArgs } from './args.js';

export { CATALOGUE_DIR, DETECTORS_DIR, catalogueNames, detectorNames, resolveScenario, resolveForCli } from './resolve.js';
import { resolveForCli } from './resolve.js';

/** The real runner's bound on waiting for one failpoint trigger (RunOptions.triggerTimeoutMs). */
export const DEFAULT_TRIGGER_TIMEOUT_MS = 15_000;

/**
 * `nsekit sim`: run one scenario in real-process mode (`--mode fast`: ./fast.ts). Exit codes:
 * 0 valid, 1 safety violation, 2 unknown, 3 liveness failure, 4 harness error (bad
 * arguments, invalid scenario, world failed to start).
 */
export async function runSimCli(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s + '\n'), err: (s: string) => void = (s) => process.stderr.write(s + '\n')): Promise<number> {
  let a: SimArgs | null;
  try {
    a = parseSimArgs(argv);
  } catch (e) {
    return reportCliError('sim', e, SIM_USAGE, err, 'sim');
  }
  if (a === null) {
    out(SIM_USAGE);
    return 0;
  }
  if (a.mode === 'fast') return (await import('./fast.js')).runFastSim(a, out, err);
  const resolved = resolveForCli(a, out, err);
  if (!resolved) return 4;
  const { scenario, source } = resolved;
  const live = a.progress || process.stderr.isTTY === true;
  const seed = a.seed ?? randomSeed();
  // First line, before anything runs: the seed and every derived parameter.
  out(paramsLine({ ...deriveParams(scenario, seed).params, ...(a.broken ? { broken: a.broken } : {}) }));
  const r: RunResult = await runScenario(scenario, {
    seed,
    outDir: a.out ?? 'runs',
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
  for (const hErr of r.harnessErrors) out(`HARNESS ${harnessLine(hErr)}`);
  if (r.missingHits.length) out(`COVERAGE missing: ${r.missingHits.join(', ')}`);
  out(`expect: ${r.expectMet ? 'met' : `NOT met (${r.expectProblems.map(harnessLine).join('; ')})`}`);
  out(`verdict: ${r.valid === true ? 'valid' : r.valid === false ? 'INVALID' : 'unknown'} exit=${r.exitCode} events=${r.events} run=${r.runDir}`);
  // A run with another trigger bound is replayed with the same bound: a step given up earlier runs earlier.
  const tt = a.triggerTimeoutMs !== undefined && a.triggerTimeoutMs !== DEFAULT_TRIGGER_TIMEOUT_MS ? ` --trigger-timeout-ms ${a.triggerTimeoutMs}` : '';
  const replay = `${r.replay}${tt}`;
  if (r.violations.length) out(`replay: ${replay}`);
  if (a.json) {
    const violations = r.violations.map((v) => ({ ...v, replay }));
    const harness = r.harnessErrors.map(harnessLine);
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
