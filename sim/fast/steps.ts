/**
 * The fast mode's orchestrator: runs a scenario's steps against a FastWorld
 * the way sim/orchestrator/engine.ts does against real processes — steps in
 * order, each waiting for its trigger (a failpoint hit holds the process
 * exactly there until the step has run; `pause` holds it until `resume`),
 * with the iOS budgets (app background task → expiration → freeze; NSE
 * budget → time-will-expire → freeze) on the virtual clock.
 */
import type { TimerHandle } from '../../src/core/host.js';
import { OPTIONAL_TRIGGER_MS, type Scenario, type Step } from '../scenario/index.js';
import { IosRules, YIELD_WAIT_MS } from './ios-rules.js';
import { FastWindows, WINDOW_BUDGET_MS } from './windows.js';
import { ORCH, type FastWorld, type Role } from './world.js';

/** Virtual ms a step waits for its failpoint before it is given up (covers the scaled iOS budgets). */
export const TRIGGER_TIMEOUT_MS = OPTIONAL_TRIGGER_MS;
const TRIGGER_TIMEOUT = 'SIM_TRIGGER_TIMEOUT';

interface Held {
  role: Role;
  release: () => void;
}
interface Armed {
  step: number;
  nth: number;
  count: number;
  fire: (h: Held) => void;
}

export class StepRunner {
  done = false;
  /** Steps that could not run as written (as the real engine's harnessErrors): the verdict is then unknown. */
  readonly harnessErrors: string[] = [];
  private readonly chains = new Map<string, Armed[]>();
  private readonly fired = new Map<number, Promise<Held>>();
  /** Held by `pause` steps, per process: a `resume` lets all of them go (a second pause must not orphan the first). */
  private readonly paused = new Map<Role, Held[]>();
  private abandon: ((e: Error) => void) | null = null;
  private readonly onHit: FastWorld['onHit'];
  readonly rules: IosRules;
  readonly windows: FastWindows;

  constructor(
    private readonly w: FastWorld,
    private readonly s: Scenario,
  ) {
    s.steps.forEach((st, i) => {
      const t = st.when as { proc?: Role; at?: string; nth?: number } | undefined;
      if (!t?.proc || !t.at) return;
      const key = `${t.proc}:${t.at}`;
      let fire!: (h: Held) => void;
      this.fired.set(i, new Promise<Held>((r) => (fire = r)));
      const list = this.chains.get(key) ?? [];
      list.push({ step: i, nth: t.nth ?? 1, count: 0, fire });
      this.chains.set(key, list);
    });
    this.onHit = (role, name, release) => {
      const list = this.chains.get(`${role}:${name}`);
      const head = list?.[0];
      if (!head || ++head.count < head.nth) return false;
      list!.shift();
      head.fire({ role, release: once(release) });
      return true;
    };
    this.rules = new IosRules(w);
    this.windows = new FastWindows(w, this.rules);
  }

  /** Stop holding processes anywhere (end of steps, or a trigger given up). */
  disarm(): void {
    this.chains.clear();
    for (const [, hs] of this.paused) for (const h of hs) h.release();
    this.paused.clear();
  }

  /** Called when the world is quiescent: a step waiting on something that cannot happen is given up. */
  giveUp(): boolean {
    if (!this.abandon) return false;
    const a = this.abandon;
    this.abandon = null;
    a(new Error('stuck: nothing left to run (trigger never reached or the process died)'));
    return true;
  }

  private guard<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.abandon = reject;
      p.then(resolve, reject).finally(() => {
        if (this.abandon === reject) this.abandon = null;
      });
    });
  }

  async run(): Promise<void> {
    const { w } = this;
    w.onHit = this.onHit; // armed once the device is up (the real engine arms at the process's `ready`)
    const steps = this.s.steps;
    for (let i = 0; i < steps.length; i++) {
      const st = steps[i]!;
      await w.sched.point(ORCH); // the step races the processes' tasks
      let held: Held | undefined;
      try {
        held = await this.guard(this.trigger(i, st));
      } catch (e) {
        this.chains.forEach((l) => l.forEach((a, j) => a.step === i && l.splice(j, 1)));
        if ((st.when as { optional?: boolean } | undefined)?.optional) {
          w.h.info(ORCH, 'step.skipped', { i, do: st.do, id: st.id, why: (e as Error).message });
          continue;
        }
        this.harnessErrors.push(`step ${i} (${st.do}): ${TRIGGER_TIMEOUT}: ${(e as Error).message}`);
        w.h.fail(ORCH, 'step', (e as Error).message, { i, do: st.do, id: st.id, code: TRIGGER_TIMEOUT });
        continue;
      }
      w.h.invoke(ORCH, 'step', { i, do: st.do, id: st.id, proc: st.proc, args: st.args, ...(held ? { at: (st.when as { at: string }).at } : {}) });
      try {
        // A wait lasts its ms; a foreground may wait out the NSE's yield (5 s) first.
        const extra = st.do === 'wait' ? Number((st.args as { ms?: number } | undefined)?.ms ?? 0) : st.do === 'foreground' ? YIELD_WAIT_MS : 0;
        // A window lasts at most its (scaled) budget.
        const win = st.do === 'refresh' || st.do === 'silent-push' ? Number((st.args as { budgetMs?: number } | undefined)?.budgetMs ?? WINDOW_BUDGET_MS) * w.world.timeFactor : 0;
        const bound = TRIGGER_TIMEOUT_MS + extra + win;
        await this.guard(this.bounded(this.verb(st, held), bound, `step did not finish within ${bound} ms`));
        w.h.ok(ORCH, 'step', { i, do: st.do, id: st.id });
      } catch (e) {
        this.harnessErrors.push(`step ${i} (${st.do}): ${(e as Error).message}`);
        w.h.fail(ORCH, 'step', (e as Error).message, { i, do: st.do, id: st.id });
        if (held && st.do !== 'pause') held.release();
      }
    }
    this.done = true;
  }

  private async bounded<T>(p: Promise<T>, ms: number, why: string): Promise<T> {
    let timer: TimerHandle | null = null;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.w.sched.setTimer(ORCH, ms, () => reject(new Error(why)));
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      if (timer !== null) this.w.sched.clearTimer(timer);
    }
  }

  private async trigger(i: number, st: Step): Promise<Held | undefined> {
    const t = st.when as { at_ms?: number; after?: string; at?: string } | undefined;
    if (!t || t.after !== undefined) return undefined; // `after` names an earlier step: already run
    if (t.at_ms !== undefined) {
      await this.w.sched.delay(ORCH, t.at_ms - this.w.sched.now);
      return undefined;
    }
    // Bounded like the real engine's triggerTimeoutMs, but on the virtual clock, so a step
    // waiting for a failpoint that will not come does not let 30 s process timeouts fire first.
    return this.bounded(this.fired.get(i)!, TRIGGER_TIMEOUT_MS, `failpoint ${t.at} not reached within ${TRIGGER_TIMEOUT_MS} ms`);
  }

  private async verb(st: Step, held: Held | undefined): Promise<void> {
    const { w } = this;
    const role = st.proc as Role | undefined;
    const args = (st.args ?? {}) as Record<string, number | boolean | undefined>;
    const release = () => held?.release();
    switch (st.do) {
      case 'freeze':
        w.freeze(role!, 'step');
        break;
      case 'thaw':
        w.thaw(role!, 'step');
        break;
      case 'kill':
        if (role === 'nse') this.rules.clearNseTimers();
        else this.rules.clearAppTimer();
        w.kill(role!, 'step');
        break;
      case 'pause':
        if (held) this.paused.set(held.role, [...(this.paused.get(held.role) ?? []), held]);
        return;
      case 'resume': {
        const hs = this.paused.get(role!) ?? [];
        this.paused.delete(role!);
        for (const h of hs) h.release();
        break;
      }
      case 'foreground':
        release();
        this.windows.opened();
        await this.rules.foreground();
        return;
      case 'background':
        this.rules.background(args.task !== false);
        break;
      case 'expire':
        if (role === 'nse') this.rules.expireNse('step');
        else this.rules.expireApp('step');
        break;
      case 'lock-device':
        w.h.ok(ORCH, 'lock-device', {});
        w.setDeviceLocked(true);
        break;
      case 'unlock-device':
        this.rules.unlockDevice(false);
        break;
      case 'send':
        for (let k = 0; k < Number(args.count ?? 1); k++) {
          w.send(Number(args.queue ?? 0), Number(args.sender ?? 0), args.notification !== false, Number(args.bytes ?? 64));
        }
        break;
      case 'push':
        w.deliverPush(w.queueIds[Number(args.queue ?? 0)]!);
        break;
      case 'partition':
        w.relay.partitioned = true;
        w.relay.dropConnections();
        w.h.ok(ORCH, 'partition', {});
        break;
      case 'heal':
        this.rules.heal(false);
        break;
      case 'power-cut':
        this.rules.clearAppTimer();
        this.rules.clearNseTimers();
        w.powerCut();
        break;
      case 'restart-relay':
        w.h.invoke('relay', 'restart', {});
        w.relay.dropConnections();
        w.h.ok('relay', 'restart', {});
        break;
      case 'delay-push': {
        const ms = Number(args.ms ?? 0);
        w.pushesHeld = true;
        if (ms > 0) w.sched.setTimer(ORCH, ms, () => w.releasePushes());
        else w.releasePushes();
        break;
      }
      case 'wait':
        release();
        await w.sched.delay(ORCH, Number(args.ms ?? 0));
        return;
      case 'settings':
      case 'refresh':
      case 'silent-push':
      case 'force-quit':
      case 'app-send':
        release();
        await this.windows.verb(st.do, args);
        return;
    }
    release();
  }

  /** End of the steps: no more holds; heal every fault, thaw everything, app to the front. */
  async healAll(): Promise<void> {
    this.disarm();
    this.windows.opened();
    await this.rules.healAll();
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
