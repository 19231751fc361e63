/**
 * `benchFast()`: fast-mode throughput on a typical scenario (the example
 * "second-push-mid-get": app suspended, two senders, a second push mid-GET —
 * three simulated processes plus relay). Runs distinct seeds for a fixed
 * wall-clock window after a short warm-up; reports runs per wall second
 * (the target: ≥ 200) and per CPU second (less sensitive to a loaded machine).
 */
import { loadScenario, type Scenario } from '../scenario/index.js';
import { runFast } from './run.js';

export const BENCH_SCENARIO = new URL('../scenario/examples/second-push-mid-get.json', import.meta.url);

export interface FastBench {
  sim_fast_runs_per_s: number;
  sim_fast_runs_per_cpu_s: number;
  runs: number;
  /** Mean scheduler steps and history ops per run. */
  steps_per_run: number;
  events_per_run: number;
}

export async function benchFast(opts: { durationMs?: number; warmup?: number; scenario?: Scenario } = {}): Promise<FastBench> {
  const s = opts.scenario ?? loadScenario(BENCH_SCENARIO.pathname);
  for (let i = 0; i < (opts.warmup ?? 20); i++) await runFast(s, 1_000_000 + i);
  const dur = opts.durationMs ?? 2_000;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let runs = 0;
  let steps = 0;
  let events = 0;
  while (performance.now() - t0 < dur) {
    const r = await runFast(s, runs + 1);
    steps += r.steps;
    events += r.events;
    runs++;
  }
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const cpuS = (cpu.user + cpu.system) / 1e6;
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    sim_fast_runs_per_s: round(runs / wall),
    sim_fast_runs_per_cpu_s: round(runs / cpuS),
    runs,
    steps_per_run: round(steps / runs),
    events_per_run: round(events / runs),
  };
}
