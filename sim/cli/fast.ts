/**
 * `nsekit sim <scenario> --mode fast [--seed N] [--json] [--broken VARIANT] [--out DIR]`:
 * one scenario in the deterministic fast mode. Same output shape and exit
 * codes as the real mode (sim/cli/sim.ts): first line `seed=… scenario=…
 * mode=fast …`, a verdict per invariant, `--json` last line. With --out, the
 * run's history, Chrome trace and HTML report are written there.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toJsonl } from '../history/index.js';
import { storyOf, toChromeTrace, toHtmlReport } from '../report/index.js';
import { resolveWorld, scaledBudgets, type Scenario } from '../scenario/index.js';
import type { BrokenVariant } from '../broken.js';
import { NsekitError } from '../../src/core/errors.js';
import { reportCliError } from '../../src/cli/args.js';
import { harnessLine, parseSimArgs, SIM_USAGE, type SimArgs } from './args.js';
import { replayCommand, runFast } from '../fast/run.js';
import { resolveForCli } from './resolve.js';

/** Every parameter a fast run derives from the scenario and seed. */
export function fastParams(s: Scenario, seed: number, broken?: BrokenVariant): Record<string, string | number> {
  const w = resolveWorld(s);
  const b = scaledBudgets(w);
  return {
    seed, scenario: s.name, mode: 'fast', ...(broken ? { broken } : {}), 'world.mode': w.mode, queues: w.queues, senders: w.senders, ...((w.devices ?? 1) > 1 ? { devices: w.devices! } : {}),
    timeFactor: w.timeFactor, bgTaskMs: b.bgTaskMs, nseMs: b.nseMs, nseGraceMs: b.nseGraceMs, convergenceMs: w.convergenceMs, clock: 'virtual',
  };
}
/** The first output line: `seed=… scenario=… mode=fast …`. */
export function fastParamsLine(s: Scenario, seed: number, broken?: BrokenVariant): string {
  return Object.entries(fastParams(s, seed, broken)).map(([k, v]) => `${k}=${v}`).join(' ');
}

/** `nsekit sim … --mode fast` from its argv (the tests' entry); the CLI parses once in ./sim.ts. */
export async function runFastScenarioCli(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s + '\n'),
  err: (s: string) => void = (s) => process.stderr.write(s + '\n'),
): Promise<number> {
  let a: SimArgs | null;
  try {
    a = parseSimArgs(argv.includes('--mode') ? argv : [...argv, '--mode', 'fast']);
    if (a && a.mode !== 'fast') throw new NsekitError('CLI_BAD_VALUE', `--mode must be fast here, got ${a.mode}`);
  } catch (e) {
    return reportCliError('sim', e, SIM_USAGE, err, 'sim');
  }
  if (a === null) {
    out(SIM_USAGE);
    return 0;
  }
  return runFastSim(a, out, err);
}

export async function runFastSim(a: SimArgs, out: (s: string) => void, err: (s: string) => void): Promise<number> {
  // The real mode's resolver: a file path or a catalogue name.
  const resolved = resolveForCli(a, out, err, { mode: 'fast' });
  if (!resolved) return 4;
  const { scenario, source } = resolved;
  const seed = a.seed ?? Math.floor(Math.random() * 2 ** 31);
  out(fastParamsLine(scenario, seed, a.broken));
  const r = await runFast(scenario, seed, a.broken ? { broken: a.broken } : {});
  const replay = replayCommand(source, seed, a.broken);
  for (const v of r.verdicts) {
    out(`${v.valid === true ? 'PASS' : v.valid === false ? 'FAIL' : 'UNKNOWN'} ${v.invariant}${v.notes.length ? ` (${v.notes.join('; ')})` : ''}`);
    for (const x of v.violations) out(`  - ${x.detail} [ops ${x.ops.join(',')}]`);
  }
  if (r.missingHits.length) out(`COVERAGE missing: ${r.missingHits.join(', ')}`);
  out(`expect: ${r.expectMet ? 'met' : `NOT met (${r.expectProblems.map(harnessLine).join('; ')})`}`);
  let runDir: string | null = null;
  if (a.out) {
    runDir = a.out;
    mkdirSync(runDir, { recursive: true });
    writeFileSync(join(runDir, 'history.jsonl'), toJsonl(r.history));
    writeFileSync(join(runDir, 'trace.json'), JSON.stringify(toChromeTrace(r.history, r.verdicts)));
    const story = storyOf(scenario, r.history, r, a.broken ? { broken: a.broken } : {});
    writeFileSync(join(runDir, 'report.html'), toHtmlReport(r.history, r.verdicts, { scenario: scenario.name, seed, mode: 'fast', replay, params: fastParams(scenario, seed, a.broken), verdict: r.valid, exitCode: r.exitCode, story }));
  }
  out(`verdict: ${r.valid === true ? 'valid' : r.valid === false ? 'INVALID' : 'unknown'} exit=${r.exitCode} events=${r.events} virtual_ms=${r.virtualMs} steps=${r.steps}${runDir ? ` run=${runDir}` : ''}`);
  if (r.violations.length) out(`replay: ${replay}`);
  if (a.json) {
    const violations = r.violations.map((v) => ({ ...v, replay }));
    out(JSON.stringify({ valid: r.valid, seed, violations, events: r.events, exitCode: r.exitCode, expectMet: r.expectMet, hits: r.hits, mode: 'fast', ...(a.broken ? { broken: a.broken } : {}), runDir }));
  }
  return r.exitCode;
}
