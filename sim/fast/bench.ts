/**
 * `benchFast()`: fast-mode throughput on a typical scenario (the example
 * "second-push-mid-get": app suspended, two senders, a second push mid-GET —
 * app + NSE + relay). Runs distinct seeds for a fixed wall-clock window after a
 * short warm-up, `lanes` runs at a time in this one process (runs share nothing,
 * so each stays deterministic). Reports runs per wall second (target ≥ 200), the
 * single-lane figure, and runs per CPU second (less sensitive to a loaded machine).
 */
import { loadScenario, type Scenario } from '../scenario/index.js';
import { runFast } from './run.js';

export const BENCH_SCENARIO = new URL('../scenario/examples/second-push-mid-get.json', import.meta.url);

export interface FastBench {
  sim_fast_runs_per_s: number;
  sim_fast_runs_per_s_1lane: number;
  sim_fast_runs_per_cpu_s: number;
  lanes: number;
  runs: number;
  /** Mean scheduler steps and history ops per run. */
  steps_per_run: number;
  events_per_run: number;
}

async function window(s: Scenario, ms: number, lanes: number, seed0: number): Promise<{ runs: number; wall: number; cpu: number; steps: number; events: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let runs = 0;
  let steps = 0;
  let events = 0;
  let next = seed0;
  await Promise.all(
    Array.from({ length: lanes }, async () => {
      while (performance.now() - t0 < ms) {
        const r = await runFast(s, next++);
        steps += r.steps;
        events += r.events;
        runs++;
      }
    }),
  );
  const cpu = process.cpuUsage(c0);
  return { runs, wall: (performance.now() - t0) / 1000, cpu: (cpu.user + cpu.system) / 1e6, steps, events };
}

export async function benchFast(opts: { durationMs?: number; warmup?: number; scenario?: Scenario; lanes?: number } = {}): Promise<FastBench> {
  const s = opts.scenario ?? loadScenario(BENCH_SCENARIO.pathname);
  for (let i = 0; i < (opts.warmup ?? 20); i++) await runFast(s, 1_000_000 + i);
  const dur = opts.durationMs ?? 2_000;
  const lanes = Math.max(1, opts.lanes ?? 4);
  const one = await window(s, dur / 2, 1, 1);
  const many = await window(s, dur, lanes, 100_000);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    sim_fast_runs_per_s: round(many.runs / many.wall),
    sim_fast_runs_per_s_1lane: round(one.runs / one.wall),
    sim_fast_runs_per_cpu_s: round(many.runs / many.cpu),
    lanes,
    runs: many.runs,
    steps_per_run: round(many.steps / many.runs),
    events_per_run: round(many.events / many.runs),
  };
}
