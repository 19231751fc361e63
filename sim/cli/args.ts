/**
 * `nsekit sim`'s flags, one parser for both modes (./sim.ts real, ./fast.ts fast), on the
 * shared flag parser of the product commands (src/cli/args.ts): the same messages, the
 * same codes. A usage error is exit 4 here — sim's 2 is the `unknown` verdict.
 */
import { intFlag, oneOf, parseFlags, str, usageError } from '../../src/cli/args.js';
import { BROKEN_VARIANTS, type BrokenVariant } from '../broken.js';

export const SIM_USAGE = `usage: nsekit sim <scenario.json|catalogue-name> [--mode real|fast] [--seed N] [--json] [--out DIR] [--progress]
                  [--broken VARIANT] [--trigger-timeout-ms N]
  --mode real (default)   real app/NSE processes, a relay and a push gateway; --out DIR (default runs/) gets one
                          run folder per run: history.jsonl, trace.json, report.html, each process's log
  --mode fast             one process on a virtual clock with a seeded scheduler; --out DIR (optional) gets
                          history.jsonl, trace.json and report.html directly
  --seed N                the run's seed (default random; printed on the first line)
  --json                  last stdout line: one JSON object (valid, seed, violations, events, exitCode, expectMet, hits, runDir)
  --progress              real mode: live progress on stderr (default when stderr is a terminal)
  --broken VARIANT        run a deliberately broken protocol variant: ${BROKEN_VARIANTS.join(' | ')}
  --trigger-timeout-ms N  real mode: how long a step waits for its failpoint trigger (default 15000)
exit codes: 0 valid, 1 safety violation, 2 unknown, 3 liveness failure, 4 harness or usage error (docs/cli.md)`;

export interface SimArgs {
  target: string;
  mode: 'real' | 'fast';
  seed?: number;
  json: boolean;
  out?: string;
  progress: boolean;
  broken?: BrokenVariant;
  triggerTimeoutMs?: number;
}

/** Parses sim's argv; `null` for --help. Throws CLI_USAGE / CLI_BAD_VALUE. */
export function parseSimArgs(argv: readonly string[]): SimArgs | null {
  const p = parseFlags(argv, { mode: 'value', seed: 'value', json: 'switch', out: 'value', progress: 'switch', broken: 'value', 'trigger-timeout-ms': 'value' }, 1);
  if (p.help) return null;
  const mode = oneOf(p, 'mode', ['real', 'fast'] as const) ?? 'real';
  const target = p.positionals[0];
  if (target === undefined) throw usageError('missing scenario (a scenario .json file or a catalogue name)');
  const a: SimArgs = { target, mode, json: p.flags.json === true, progress: p.flags.progress === true };
  const seed = intFlag(p, 'seed');
  if (seed !== undefined) a.seed = seed;
  const out = str(p, 'out');
  if (out !== undefined) a.out = out;
  const broken = oneOf(p, 'broken', BROKEN_VARIANTS);
  if (broken) a.broken = broken;
  const tt = intFlag(p, 'trigger-timeout-ms', 1);
  if (tt !== undefined) {
    if (mode === 'fast') throw usageError('--trigger-timeout-ms applies to --mode real only (fast mode triggers run on a virtual clock)');
    a.triggerTimeoutMs = tt;
  }
  return a;
}

/**
 * One line of a harness error: its first line, with a code repeated by a wrapper said once
 * (`step 3 (pause): SIM_TRIGGER_TIMEOUT: SIM_TRIGGER_TIMEOUT: …` → `…: SIM_TRIGGER_TIMEOUT: …`).
 */
export function harnessLine(x: string): string {
  return x.split('\n')[0]!.replace(/\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+): \1: /g, '$1: ');
}
