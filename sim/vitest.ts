import type { Verdict } from './checkers/index.js';
import type { BrokenVariant } from './broken.js';
import { runScenario as runReal, type RunResult, type RunViolation } from './orchestrator/index.js';
import { ScenarioBuilder, type Scenario } from './scenario/index.js';
import type { Validity } from './checkers/types.js';
import { runFastInFolder, type FastRunResult } from './vitest-fast.js';
import { installMatchers } from './vitest-matchers.js';

export { toMeetExpectations, installMatchers } from './vitest-matchers.js';
// The whole test-author API from one module (`nsekit/test` under sim/vitest.config.ts).
export { scenario, ScenarioBuilder, loadScenario, parseScenario, validateScenario, checkExpectations, type Scenario, type Step, type HitMark } from './scenario/index.js';
export { runFast, type FastResult } from './fast/run.js';
export { BROKEN_VARIANTS, type BrokenVariant } from './broken.js';

export interface ScenarioOutcome {
  /** The scenario's name and the seed it ran with. */
  scenario: string;
  seed: number;
  mode: 'real' | 'fast';
  valid: Validity;
  verdicts: Verdict[];
  violations: RunViolation[];
  /** Failpoints reached, as `name` and `proc:name`. */
  hits: string[];
  /** The scenario's own `expect` held (verdict, expected violations, coverage marks). */
  expectMet: boolean;
  expectProblems: string[];
  exitCode: RunResult['exitCode'];
  runDir: string;
  /** A command that replays this run (it names a scenario file that exists). */
  replay: string;
  result: RunResult | FastRunResult;
}

export interface RunScenarioOptions {
  seed?: number;
  /** Base folder for run output (default `runs`). */
  outDir?: string;
  /** A deliberately broken protocol variant (sim/broken.ts), as `nsekit sim --broken`; overrides the builder's `broken()`. */
  broken?: BrokenVariant;
  /** `real` (default): real processes; `fast`: the deterministic mode (docs/fast-mode.md), milliseconds a run. */
  mode?: 'real' | 'fast';
  /**
   * The scenario file this scenario was loaded from, for the replay command. Without it the
   * scenario is written into the run folder (`scenario.json`) and the replay names that file.
   */
  source?: string;
  /** Real mode: bound on waiting for one failpoint trigger (default 15 000 run ms). */
  triggerTimeoutMs?: number;
}

/**
 * For test authors: run a scenario (a builder or its JSON) and get the verdict back.
 * Output goes to `runs/<name>/<run>/` unless `outDir` is given. Importing this module also
 * installs the `toMeetExpectations()` matcher (./vitest-matchers.ts).
 *
 *   const r = await runScenario(scenario('x').background('app').expire('app').send({ count: 2 })
 *     .when('nse', 'lock.acquired').freeze('nse').foreground('app').expectViolations('no-dead10cc'), { seed: 1 });
 *   expect(r).toMeetExpectations();
 */
export async function runScenario(s: Scenario | ScenarioBuilder, opts: RunScenarioOptions = {}): Promise<ScenarioOutcome> {
  const scenario = s instanceof ScenarioBuilder ? s.build() : s;
  const broken = opts.broken ?? (s instanceof ScenarioBuilder ? s.brokenVariant : undefined);
  if (opts.mode === 'fast') {
    const r = await runFastInFolder(scenario, { ...opts, ...(broken ? { broken } : {}) });
    return { scenario: scenario.name, seed: r.seed, mode: 'fast', valid: r.valid, verdicts: r.verdicts, violations: r.violations as RunViolation[], hits: r.hits, expectMet: r.expectMet, expectProblems: r.expectProblems, exitCode: r.exitCode, runDir: r.runDir, replay: r.replay, result: r };
  }
  const r = await runReal(scenario, {
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.outDir !== undefined ? { outDir: opts.outDir } : {}),
    ...(opts.triggerTimeoutMs !== undefined ? { triggerTimeoutMs: opts.triggerTimeoutMs } : {}),
    ...(broken ? { broken } : {}),
    ...(opts.source !== undefined ? { source: opts.source } : { writeScenario: true }),
  });
  return {
    scenario: scenario.name,
    seed: r.seed,
    mode: 'real',
    valid: r.valid,
    verdicts: r.verdicts,
    violations: r.violations,
    hits: r.hits,
    expectMet: r.expectMet,
    expectProblems: r.expectProblems,
    exitCode: r.exitCode,
    runDir: r.runDir,
    replay: r.replay,
    result: r,
  };
}

installMatchers();
