import type { Verdict } from './checkers/index.js';
import { runScenario as runReal, type RunResult, type RunViolation } from './orchestrator/index.js';
import { ScenarioBuilder, type Scenario } from './scenario/index.js';
import type { Validity } from './checkers/types.js';

export interface ScenarioOutcome {
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
  replay: string;
  result: RunResult;
}

/**
 * For test authors: run a scenario (a builder or its JSON) with real processes
 * and get the verdict back. Output goes to `runs/` unless `outDir` is given.
 *
 *   const r = await runScenario(scenario('x').background('app').send({ count: 2 })
 *     .when('nse', 'lock.acquired').freeze('nse').foreground('app'), { seed: 1 });
 *   expect(r.violations.map((v) => v.invariant)).toEqual(['no-dead10cc']);
 */
export async function runScenario(s: Scenario | ScenarioBuilder, opts: { seed?: number; outDir?: string } = {}): Promise<ScenarioOutcome> {
  const scenario = s instanceof ScenarioBuilder ? s.build() : s;
  const r = await runReal(scenario, { ...opts, source: `${scenario.name}.json` });
  return {
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
