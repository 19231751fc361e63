import type { Step } from './types.js';

/** A step whose trigger fired while an earlier step was still in progress: it ran only after it. */
export interface StepWait {
  /** The step that waited, and its verb. */
  i: number;
  do: string;
  /** The step in progress when its trigger fired (the earliest still running), and its verb. */
  behind: number;
  behindDo: string;
  /** From the trigger firing to the step starting (run ms; virtual ms in fast mode). */
  waitedMs: number;
}

/**
 * Which steps are running, for both engines (sim/orchestrator/engine.ts, sim/fast/steps.ts):
 * steps run in order, so a failpoint trigger that fires while an earlier step is
 * still in progress (a `foreground` waiting for the NSE to yield, a `kill` waiting for the
 * exit, a `wait`) holds its process there until that step is done. Nothing showed that; the
 * engines record it as a `step.waited` op (docs/scenarios.md "Concurrent steps"), and a step
 * marked `concurrent` does not wait at all.
 */
export class StepWaits {
  private readonly running = new Map<number, string>();
  private readonly firedAt = new Map<number, { t: number; during: [number, string] | null }>();

  constructor(private readonly now: () => number) {}

  /** Step i's verb starts / ends. */
  begin(i: number, verb: string): void {
    this.running.set(i, verb);
  }
  end(i: number): void {
    this.running.delete(i);
  }

  /** Step i's failpoint trigger fired (call at that moment). */
  fired(i: number): void {
    const first = [...this.running.entries()].sort((a, b) => a[0] - b[0])[0];
    this.firedAt.set(i, { t: this.now(), during: first ?? null });
  }

  /** Step i's turn came (its failpoint trigger has fired): whether it waited behind an earlier step. */
  turn(i: number, st: Step): StepWait | null {
    const f = this.firedAt.get(i);
    if (!f?.during || f.during[0] >= i) return null;
    const waitedMs = Math.round((this.now() - f.t) * 1000) / 1000;
    return waitedMs > 0 ? { i, do: st.do, behind: f.during[0], behindDo: f.during[1], waitedMs } : null;
  }
}
