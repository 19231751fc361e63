import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { BrokenVariant } from './broken.js';
import { toJsonl } from './history/index.js';
import { runFast, replayCommand, type FastResult } from './fast/run.js';
import { fastParams } from './cli/fast.js';
import { runDirFor } from './orchestrator/run.js';
import { storyOf, toChromeTrace, toHtmlReport } from './report/index.js';
import type { Scenario } from './scenario/index.js';

export interface FastRunResult extends FastResult {
  seed: number;
  runDir: string;
  replay: string;
}

/**
 * A fast-mode run for `runScenario(…, { mode: 'fast' })` (./vitest.ts): the same run folder
 * as a real run (`runs/<name>/<time>-s<seed>-p<pid>/`, history, trace, report, verdict) so a
 * failing test points at something to open, and — without a `source` file — the scenario
 * as `scenario.json` there, which the replay command names.
 */
export async function runFastInFolder(scenario: Scenario, opts: { seed?: number; outDir?: string; broken?: BrokenVariant; source?: string }): Promise<FastRunResult> {
  const seed = (opts.seed ?? Math.floor(Math.random() * 2 ** 31)) >>> 0;
  const r = await runFast(scenario, seed, opts.broken ? { broken: opts.broken } : {});
  const runDir = runDirFor(resolve(opts.outDir ?? 'runs'), scenario.name, seed);
  let source = opts.source;
  if (source === undefined) {
    source = join(runDir, 'scenario.json');
    writeFileSync(source, JSON.stringify(scenario, null, 2) + '\n');
  }
  const replay = replayCommand(source, seed, opts.broken);
  writeFileSync(join(runDir, 'history.jsonl'), toJsonl(r.history));
  writeFileSync(join(runDir, 'trace.json'), JSON.stringify(toChromeTrace(r.history, r.verdicts)));
  const story = storyOf(scenario, r.history, r, { harness: r.harnessErrors, ...(opts.broken ? { broken: opts.broken } : {}) });
  writeFileSync(join(runDir, 'report.html'), toHtmlReport(r.history, r.verdicts, { scenario: scenario.name, seed, mode: 'fast', replay, params: fastParams(scenario, seed, opts.broken), verdict: r.valid, exitCode: r.exitCode, story }));
  writeFileSync(join(runDir, 'verdict.json'), JSON.stringify({ valid: r.valid, exitCode: r.exitCode, verdicts: r.verdicts }, null, 1));
  return { ...r, violations: r.violations.map((v) => ({ ...v, replay })), seed, runDir, replay };
}
