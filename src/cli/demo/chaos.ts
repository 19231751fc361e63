import { join } from 'node:path';
import { SHARED_FILES } from '../../device/ipc.js';
import type { Device } from '../../device/device.js';
import type { ManagedProc } from '../../device/proc.js';
import { holdLockFromOutside, type LockHold } from './lock-holder.js';
import type { Prng } from './prng.js';

/** The store's lock timeout (docs/store.md, `lockTimeoutMs` 5000): outside holds last up to 3× it. */
export const LOCK_TIMEOUT_MS = 5_000;

type Role = 'app' | 'nse';
export interface ChaosCounts {
  sigstop: Record<Role, number>;
  sigcont: Record<Role, number>;
  sigkill: Record<Role, number>;
  /** Outside flock holds that got the lock, and the longest one (ms). */
  lockHolds: number;
  lockHeldMaxMs: number;
}

type Action = 'stop-app' | 'stop-nse' | 'kill-app' | 'kill-nse' | 'hold-lock' | 'nothing';
const ACTIONS: readonly (readonly [Action, number])[] = [
  ['stop-app', 3],
  ['stop-nse', 3],
  ['kill-app', 2],
  ['kill-nse', 2],
  ['hold-lock', 2],
  ['nothing', 1],
];

/**
 * The chaos loop of `nsekit demo --chaos` (docs/cli.md): from outside the device, as a user
 * with `kill` and `flock(1)` would, it SIGSTOPs (and later SIGCONTs), SIGKILLs the app and the
 * NSE and holds store.lock for up to 3× the lock timeout. Every delay and choice comes from the
 * seeded PRNG. Signals go to the pids directly: the device is not told (it sees only what
 * iOS would — a process that stops answering or exits).
 */
export class Chaos {
  readonly counts: ChaosCounts = { sigstop: { app: 0, nse: 0 }, sigcont: { app: 0, nse: 0 }, sigkill: { app: 0, nse: 0 }, lockHolds: 0, lockHeldMaxMs: 0 };
  /** Processes this loop stopped and has not continued yet (pid → role). */
  private readonly stopped = new Map<number, Role>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private hold: LockHold | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;

  constructor(
    private readonly device: Device,
    private readonly rng: Prng,
    private readonly log: (line: string) => void = () => {},
  ) {}

  start(): void {
    this.running = true;
    this.loop = this.run();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.wake = null;
        r();
      }, ms);
      this.timers.add(t);
      this.wake = () => {
        clearTimeout(t);
        this.timers.delete(t);
        r();
      };
    });
  }

  private proc(role: Role): ManagedProc | null {
    const p = role === 'app' ? this.device.app : this.device.nse;
    return p?.alive ? p : null;
  }

  private signal(p: ManagedProc, sig: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL'): boolean {
    try {
      process.kill(p.pid, sig);
      return true;
    } catch {
      return false; // gone meanwhile
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      // Three draws every time, whatever the processes' state: the schedule (when, what, how
      // long) is a function of the seed alone; an action with nothing to act on is skipped.
      const delay = this.rng.int(300, 1_500);
      const action = this.rng.pick(ACTIONS);
      const u = this.rng.next();
      await this.sleep(delay);
      if (!this.running) break;
      this.act(action, u);
    }
  }

  /** `u` in [0, 1) sets how long (a stop, a lock hold). */
  private act(a: Action, u: number): void {
    if (a === 'stop-app' || a === 'stop-nse') {
      const role: Role = a === 'stop-app' ? 'app' : 'nse';
      const p = this.proc(role);
      // One the device froze (iOS) is left alone: a later SIGCONT of ours would thaw it behind the device's back.
      if (!p || p.stopped || this.stopped.has(p.pid) || !this.signal(p, 'SIGSTOP')) return;
      this.counts.sigstop[role]++;
      this.stopped.set(p.pid, role);
      // Stopped for up to ~1.5× the lock timeout: long enough that a waiter's LOCK_TIMEOUT fires.
      const ms = 200 + Math.floor(u * (LOCK_TIMEOUT_MS * 1.5 - 200));
      this.log(`chaos: SIGSTOP ${role} pid ${p.pid} for ${ms} ms`);
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.cont(p);
      }, ms);
      this.timers.add(t);
    } else if (a === 'kill-app' || a === 'kill-nse') {
      const role: Role = a === 'kill-app' ? 'app' : 'nse';
      const p = this.proc(role);
      if (!p || !this.signal(p, 'SIGKILL')) return;
      this.counts.sigkill[role]++;
      this.stopped.delete(p.pid);
      this.log(`chaos: SIGKILL ${role} pid ${p.pid}`);
    } else if (a === 'hold-lock' && !this.hold) {
      const ms = LOCK_TIMEOUT_MS / 2 + Math.floor(u * 2.5 * LOCK_TIMEOUT_MS);
      const h = holdLockFromOutside(join(this.device.sharedDir, SHARED_FILES.lock), ms);
      this.hold = h;
      this.log(`chaos: holding store.lock from pid ${h.pid} for ${ms} ms`);
      void h.held.then((got) => {
        if (!got) return;
        this.counts.lockHolds++;
        const t0 = Date.now();
        void h.exited.then(() => (this.counts.lockHeldMaxMs = Math.max(this.counts.lockHeldMaxMs, Date.now() - t0)));
      });
      // A holder still waiting for the lock after its whole hold time gives up (as `flock -w` would).
      const t = setTimeout(() => {
        this.timers.delete(t);
        h.kill();
      }, ms + 2 * LOCK_TIMEOUT_MS);
      this.timers.add(t);
      void h.exited.then(() => {
        if (this.hold === h) this.hold = null;
      });
    }
  }

  private cont(p: ManagedProc): void {
    const role = this.stopped.get(p.pid);
    if (!role) return;
    this.stopped.delete(p.pid);
    // Frozen by the device meanwhile (after our SIGSTOP, it suspended and iOS froze it): the device thaws it.
    if (p.alive && !p.stopped && this.signal(p, 'SIGCONT')) this.counts.sigcont[role]++;
  }

  /** Stop the loop and undo what it did: continue what it stopped, end the outside lock hold. */
  async stop(): Promise<ChaosCounts> {
    this.running = false;
    this.wake?.();
    await this.loop;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const p of [this.device.app, ...this.device.nseHistory]) if (p) this.cont(p);
    const h = this.hold;
    if (h) {
      h.kill();
      await h.exited;
    }
    return this.counts;
  }

  summary(): string {
    const c = this.counts;
    return (
      `chaos: SIGSTOP app ${c.sigstop.app} NSE ${c.sigstop.nse}; SIGCONT app ${c.sigcont.app} NSE ${c.sigcont.nse}; ` +
      `SIGKILL app ${c.sigkill.app} NSE ${c.sigkill.nse}; lock held from outside ${c.lockHolds}× (longest ${(c.lockHeldMaxMs / 1000).toFixed(1)} s)`
    );
  }
}
