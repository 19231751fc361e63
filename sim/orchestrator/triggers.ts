import type { FpHit, ManagedProc } from '../../src/device/proc.js';
import type { Scenario } from '../scenario/index.js';

type Role = 'app' | 'nse';

export interface Held {
  role: Role;
  proc: ManagedProc;
  hit: FpHit;
}

interface Waiter {
  step: number;
  nth: number;
  /**
   * A phase-valued trigger (`at: phase.enter, phase`): the process is armed with a field
   * match, so it counts (and pauses at) only its entries into that phase
   * (src/node/failpoints.ts) — two phase changes can follow each other before any re-arm
   * from here would arrive.
   */
  phase?: string;
  resolve: (h: Held) => void;
}

/**
 * Failpoint triggers. Every `when: {proc, at, nth}` of the scenario is armed
 * from the start of the run, in each instance of that process as it starts
 * (an NSE relaunch re-arms), so the process is held at exactly that hit no
 * matter how fast the earlier steps ran; the step itself runs in its turn.
 * Steps on the same (proc, failpoint) fire in order: the next one is armed
 * when the previous one fired, its `nth` counting from there.
 */
export class Triggers {
  private readonly chains = new Map<string, Waiter[]>();
  private readonly fired = new Map<number, Promise<Held>>();
  private readonly live = new Set<ManagedProc>();

  constructor(
    scenario: Scenario,
    /** A two-device run: only the triggers on this device's processes (`when.device`, default 1). */
    device = 1,
  ) {
    scenario.steps.forEach((st, i) => {
      const w = st.when as { proc?: Role; at?: string; nth?: number; phase?: string; device?: number } | undefined;
      if (!w?.proc || !w.at || (w.device ?? 1) !== device) return;
      const key = `${w.proc}\u0000${w.at}`;
      let resolve!: (h: Held) => void;
      this.fired.set(i, new Promise<Held>((r) => (resolve = r)));
      const list = this.chains.get(key) ?? [];
      list.push({ step: i, nth: w.nth ?? 1, resolve, ...(w.phase ? { phase: w.phase } : {}) });
      this.chains.set(key, list);
    });
  }

  /** Resolves when step i's failpoint has been reached (the process is held there). */
  firedFor(i: number): Promise<Held> | undefined {
    return this.fired.get(i);
  }

  /** A process instance started: arm the head of every chain for its role. */
  armProcess(role: Role, p: ManagedProc): void {
    this.live.add(p);
    for (const [key, list] of this.chains) {
      const [r, name] = key.split('\u0000') as [Role, string];
      if (r === role && list[0]) arm(p, name, list[0]);
    }
  }

  /** A paused hit came in: hand it to its step, arm the next in the chain. False if nobody wanted it. */
  onPause(role: Role, p: ManagedProc, hit: FpHit): boolean {
    const list = this.chains.get(`${role}\u0000${hit.name}`);
    const w = list?.shift();
    if (!w) return false;
    if (list![0]) arm(p, hit.name, list![0]);
    w.resolve({ role, proc: p, hit });
    return true;
  }

  /** Stop pausing anywhere (end of the steps, or a trigger that timed out). */
  disarm(name?: string): void {
    for (const [key, list] of this.chains) {
      const n = key.split('\u0000')[1]!;
      if (name !== undefined && n !== name) continue;
      list.length = 0;
      for (const p of this.live) if (p.alive) p.sendRaw({ type: 'fp-disarm', name: n });
    }
  }
}

/** Arm `name` in a process for a waiter: its nth hit (into its phase, for a phase-valued one). */
function arm(p: ManagedProc, name: string, w: Waiter): void {
  p.sendRaw({ type: 'fp-arm', name, nth: w.nth, ...(w.phase !== undefined ? { match: { phase: w.phase } } : {}) });
}
