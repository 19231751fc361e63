/**
 * The seeded scheduler of the fast mode: a virtual clock and a run queue of
 * tasks, each owned by a process instance ('app#101', 'nse#201') or by the
 * orchestrator. At each step every microtask is drained first, then the seeded
 * generator picks one runnable task — that choice is what explores
 * interleavings. When nothing is runnable the clock jumps to the next timer.
 * Frozen owners are skipped (their tasks and timers wait for the thaw);
 * killed owners' tasks and timers are dropped, so their code never runs again.
 *
 * Rule for the simulated components: every wake-up of a process from outside
 * its own code path (a lock grant, a SUB delivery, a lifecycle command) goes
 * through `post`, never through a bare promise resolution.
 */
import type { Clock, TimerHandle } from '../../src/core/host.js';
import { Prng } from './prng.js';

interface Task {
  owner: string;
  run: () => void;
}
interface Timer {
  id: number;
  at: number;
  owner: string;
  fn: () => void;
}

/** Steps between two real event-loop turns (see Scheduler.run). */
const YIELD_EVERY = 64;
const RESOLVED = Promise.resolve();

export interface RunLimits {
  /** Stop once the virtual clock would pass this time. */
  untilMs: number;
  /** Hard bound on scheduler steps (a livelock guard). */
  maxSteps: number;
  /** Called when nothing is runnable and no timer is due; return true if it made progress. */
  onIdle?: () => boolean;
  /** Stop as soon as this holds (checked between steps). */
  stop?: () => boolean;
}

export class Scheduler {
  now = 0;
  steps = 0;
  private tasks: Task[] = [];
  private timers = new Map<number, Timer>();
  private seq = 0;
  private readonly frozen = new Set<string>();
  private readonly dead = new Set<string>();
  readonly rng: Prng;

  constructor(seed: number) {
    this.rng = new Prng(seed);
  }

  /** Run `fn` as a task of `owner` when the scheduler picks it. */
  post(owner: string, fn: () => void): void {
    if (!this.dead.has(owner)) this.tasks.push({ owner, run: fn });
  }

  /** A scheduling point: resolves when the scheduler picks this task. */
  point(owner: string): Promise<void> {
    return new Promise<void>((r) => this.post(owner, r));
  }

  /** Resolves after `ms` of virtual time (a timer of `owner`). */
  delay(owner: string, ms: number): Promise<void> {
    return new Promise<void>((r) => this.setTimer(owner, ms, r));
  }

  setTimer(owner: string, ms: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    if (!this.dead.has(owner)) this.timers.set(id, { id, at: this.now + Math.max(0, ms), owner, fn });
    return { id };
  }
  clearTimer(h: TimerHandle): void {
    this.timers.delete((h as { id: number }).id);
  }

  /** A host Clock whose timers belong to `owner`. */
  clock(owner: string): Clock {
    return {
      now: () => this.now,
      setTimer: (ms, fn) => this.setTimer(owner, ms, fn),
      clearTimer: (h) => this.clearTimer(h),
    };
  }

  freeze(owner: string): void {
    this.frozen.add(owner);
  }
  thaw(owner: string): void {
    this.frozen.delete(owner);
  }
  isFrozen(owner: string): boolean {
    return this.frozen.has(owner);
  }
  isDead(owner: string): boolean {
    return this.dead.has(owner);
  }
  /** Drop every task and timer of `owner`, now and later. */
  kill(owner: string): void {
    this.dead.add(owner);
    this.frozen.delete(owner);
    this.tasks = this.tasks.filter((t) => t.owner !== owner);
    for (const [id, t] of this.timers) if (t.owner === owner) this.timers.delete(id);
  }

  private runnable(owner: string): boolean {
    return !this.frozen.has(owner) && !this.dead.has(owner);
  }

  /** Drives tasks and timers until quiescent, a limit, or `stop()`. Returns why it stopped. */
  run(limits: RunLimits): Promise<'quiescent' | 'time' | 'steps' | 'stopped'> {
    // Each step starts once every microtask the previous one started has run (transitively).
    // Node drains the whole microtask queue before it runs the next `process.nextTick`
    // callback, and a tick queued from a microtask runs only after that drain: so the next
    // step is queued as a tick from a microtask queued after the step. That is the guarantee
    // a macrotask turn (setImmediate) gives, without an event-loop turn per step; every
    // YIELD_EVERY steps the run still takes a real turn, so I/O and timers of the host
    // process (real-mode runs of `explore --compare` in the same process) are not starved.
    return new Promise((resolve, reject) => {
      let sinceYield = 0;
      const turn = (): void => {
        let why: ReturnType<Scheduler['step']>;
        try {
          why = this.step(limits);
        } catch (e) {
          reject(e); // as an awaiting loop would: a throwing task or timer fails the run
          return;
        }
        if (why !== null) resolve(why);
        else if (++sinceYield >= YIELD_EVERY) {
          sinceYield = 0;
          setImmediate(turn);
        } else void RESOLVED.then(nextTurn); // a microtask (lighter than queueMicrotask's wrapper)
      };
      const nextTurn = (): void => void process.nextTick(turn);
      setImmediate(turn);
    });
  }

  /** One scheduling decision (microtasks drained): null to go on after the next drain, else why the run stops. */
  private step(limits: RunLimits): 'quiescent' | 'time' | 'steps' | 'stopped' | null {
    if (limits.stop?.()) return 'stopped';
    if (this.steps >= limits.maxSteps) return 'steps';
    const tasks = this.tasks;
    let n = tasks.length;
    const filtered = this.frozen.size > 0;
    if (filtered) {
      n = 0;
      for (let i = 0; i < tasks.length; i++) if (this.runnable(tasks[i]!.owner)) n++;
    }
    if (n > 0) {
      const k = n === 1 ? 0 : this.rng.int(n);
      let i = k;
      if (filtered) {
        // The k-th runnable task (in queue order).
        for (let j = 0, seen = 0; j < tasks.length; j++) {
          if (!this.runnable(tasks[j]!.owner)) continue;
          if (seen++ === k) {
            i = j;
            break;
          }
        }
      }
      const t = i === 0 ? tasks.shift()! : tasks.splice(i, 1)[0]!;
      this.steps++;
      t.run();
      return null;
    }
    let next: Timer | undefined;
    for (const t of this.timers.values()) {
      if (!this.runnable(t.owner)) continue;
      if (!next || t.at < next.at || (t.at === next.at && t.id < next.id)) next = t;
    }
    if (next && Math.max(this.now, next.at) <= limits.untilMs) {
      this.timers.delete(next.id);
      this.now = Math.max(this.now, next.at);
      this.steps++;
      next.fn();
      return null;
    }
    // Made progress: drain what it started, then decide again (as after a step).
    if (limits.onIdle?.()) return null;
    if (next) {
      this.now = Math.max(this.now, limits.untilMs);
      return 'time';
    }
    return 'quiescent';
  }
}
