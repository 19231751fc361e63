/**
 * The fast mode's orchestrator: runs a scenario's steps against a FastWorld
 * the way sim/orchestrator/engine.ts does against real processes — steps in
 * order, each waiting for its trigger (a failpoint hit holds the process
 * exactly there until the step has run; `pause` holds it until `resume`),
 * with the iOS budgets (app background task → expiration → freeze; NSE
 * budget → time-will-expire → freeze) on the virtual clock.
 */
import type { TimerHandle } from '../../src/core/host.js';
import { OPTIONAL_TRIGGER_MS, stepDevice, type Scenario, type Step } from '../scenario/index.js';
import { StepWaits } from '../scenario/step-waits.js';
import { IosRules, YIELD_WAIT_MS } from './ios-rules.js';
import { FastWindows, WINDOW_BUDGET_MS } from './windows.js';
import { ORCH, type FastWorld, type Role } from './world.js';
import { devicesOf, type FastDevice } from './devices.js';

/** Virtual ms a step waits for its failpoint before it is given up (covers the scaled iOS budgets). */
export const TRIGGER_TIMEOUT_MS = OPTIONAL_TRIGGER_MS;
const TRIGGER_TIMEOUT = 'SIM_TRIGGER_TIMEOUT';

interface Held {
  /** The process held: `app`/`nse` on device 1, `app@2`/`nse@2` on device 2 (the key `pause`/`resume` pair on). */
  role: string;
  release: () => void;
}
/** A step whose verb is running (several at once with `concurrent`). */
interface InFlight {
  i: number;
  st: Step;
  held: Held | undefined;
  /** Given up (the world went quiet, or it failed): record nothing more for it. */
  abandoned: boolean;
  p: Promise<void>;
}
interface Armed {
  step: number;
  nth: number;
  /** A phase-valued trigger: only `phase.enter` hits into this phase count. */
  phase?: string;
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
  private readonly paused = new Map<string, Held[]>();
  private abandon: ((e: Error) => void) | null = null;
  /** Per step id: settles when that step has run (or could not), for `after` (it may still be running: `concurrent`). */
  private readonly stepDone = new Map<string, { p: Promise<void>; settle: () => void }>();
  private readonly waits: StepWaits;
  private readonly onHit: (device: number, ...hit: Parameters<FastWorld['onHit']>) => boolean;
  readonly rules: IosRules;
  readonly windows: FastWindows;
  /** Every device of the run (device 1 is `w`; ./devices.ts). */
  private readonly devs: FastDevice[];

  constructor(
    private readonly w: FastWorld,
    private readonly s: Scenario,
    /** A two-device run: device 2's world (./devices.ts). */
    others: FastWorld[] = [],
  ) {
    s.steps.forEach((st, i) => {
      const t = st.when as { proc?: Role; at?: string; nth?: number; phase?: string; device?: number } | undefined;
      if (!t?.proc || !t.at) return;
      const key = `${procOn(t.proc, t.device)}:${t.at}`;
      let fire!: (h: Held) => void;
      this.fired.set(i, new Promise<Held>((r) => (fire = r)));
      const list = this.chains.get(key) ?? [];
      list.push({ step: i, nth: t.nth ?? 1, count: 0, fire, ...(t.phase ? { phase: t.phase } : {}) });
      this.chains.set(key, list);
    });
    this.onHit = (device, role, name, release, fields) => {
      const who = procOn(role, device);
      const list = this.chains.get(`${who}:${name}`);
      const head = list?.[0];
      if (!head || (head.phase !== undefined && fields.phase !== head.phase) || ++head.count < head.nth) return false;
      list!.shift();
      head.fire({ role: who, release: once(release) });
      return true;
    };
    this.rules = new IosRules(w);
    this.waits = new StepWaits(() => w.sched.now);
    for (const [i, f] of this.fired) void f.then(() => this.waits.fired(i));
    for (const st of s.steps) {
      let settle!: () => void;
      if (st.id) this.stepDone.set(st.id, { p: new Promise<void>((r) => (settle = r)), settle: () => settle() });
    }
    this.windows = new FastWindows(w, this.rules);
    this.devs = devicesOf([w, ...others], { rules: this.rules, windows: this.windows });
  }

  /** The device a step acts on (`device`, default 1). */
  private dev(st: Step): FastDevice {
    return this.devs.find((d) => d.n === (st.device ?? 1)) ?? this.devs[0]!;
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
    for (const d of this.devs) d.w.onHit = (...hit) => this.onHit(d.n, ...hit); // armed once the device is up (the real engine arms at the process's `ready`)
    const steps = this.s.steps;
    const settle = (st: Step) => st.id && this.stepDone.get(st.id)?.settle();
    // Verbs still running: a step waits for them unless it is `concurrent` (docs/scenarios.md).
    const inflight: InFlight[] = [];
    for (let i = 0; i < steps.length; i++) {
      const st = steps[i]!;
      if (!st.concurrent) await this.settleAll(inflight.splice(0));
      await w.sched.point(ORCH); // the step races the processes' tasks
      let held: Held | undefined;
      try {
        held = await this.guard(this.trigger(i, st));
      } catch (e) {
        this.chains.forEach((l) => l.forEach((a, j) => a.step === i && l.splice(j, 1)));
        settle(st);
        if ((st.when as { optional?: boolean } | undefined)?.optional) {
          w.h.info(ORCH, 'step.skipped', { i, do: st.do, id: st.id, why: (e as Error).message });
          continue;
        }
        this.harnessErrors.push(`step ${i} (${st.do}): ${TRIGGER_TIMEOUT}: ${(e as Error).message}`);
        w.h.fail(ORCH, 'step', (e as Error).message, { i, do: st.do, id: st.id, code: TRIGGER_TIMEOUT });
        continue;
      }
      const waited = held ? this.waits.turn(i, st) : null;
      if (waited) w.h.info(ORCH, 'step.waited', waited);
      w.h.invoke(ORCH, 'step', { i, do: st.do, id: st.id, proc: st.proc, args: st.args, ...(st.concurrent ? { concurrent: true } : {}), ...(held ? { at: (st.when as { at: string }).at } : {}), ...(this.devs.length > 1 ? { device: stepDevice(st) } : {}) });
      this.waits.begin(i, st.do);
      const f: InFlight = { i, st, held, abandoned: false, p: Promise.resolve() };
      f.p = this.runVerb(f).finally(() => {
        this.waits.end(i);
        settle(st);
      });
      inflight.push(f);
    }
    await this.settleAll(inflight);
    this.done = true;
  }

  /** Waits for the verbs in flight; if the world goes quiet first, the ones still running are given up (harness errors). */
  private async settleAll(list: InFlight[]): Promise<void> {
    try {
      await this.guard(Promise.all(list.map((f) => f.p)));
    } catch (e) {
      for (const f of list) {
        if (f.abandoned) continue;
        f.abandoned = true;
        this.harnessErrors.push(`step ${f.i} (${f.st.do}): ${(e as Error).message}`);
        this.w.h.fail(ORCH, 'step', (e as Error).message, { i: f.i, do: f.st.do, id: f.st.id });
        if (f.held && f.st.do !== 'pause') f.held.release();
        this.waits.end(f.i);
        if (f.st.id) this.stepDone.get(f.st.id)?.settle();
      }
    }
  }

  private async runVerb(f: InFlight): Promise<void> {
    const { w } = this;
    const { i, st, held } = f;
    try {
      // A wait lasts its ms; a foreground may wait out the NSE's yield (5 s) first.
      const extra = st.do === 'wait' ? Number((st.args as { ms?: number } | undefined)?.ms ?? 0) : st.do === 'foreground' || st.do === 'tap' ? YIELD_WAIT_MS : 0;
      // A window lasts at most its (scaled) budget.
      const win = st.do === 'refresh' || st.do === 'silent-push' ? Number((st.args as { budgetMs?: number } | undefined)?.budgetMs ?? WINDOW_BUDGET_MS) * w.world.timeFactor : 0;
      const bound = TRIGGER_TIMEOUT_MS + extra + win;
      await this.bounded(this.verb(st, held), bound, `step did not finish within ${bound} ms`);
      if (!f.abandoned) w.h.ok(ORCH, 'step', { i, do: st.do, id: st.id });
    } catch (e) {
      if (f.abandoned) return;
      f.abandoned = true;
      this.harnessErrors.push(`step ${i} (${st.do}): ${(e as Error).message}`);
      w.h.fail(ORCH, 'step', (e as Error).message, { i, do: st.do, id: st.id });
      if (held && st.do !== 'pause') held.release();
    }
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
    if (!t) return undefined;
    if (t.after !== undefined) {
      await this.stepDone.get(t.after)?.p; // an earlier step: run, or still running if a later one was `concurrent`
      return undefined;
    }
    if (t.at_ms !== undefined) {
      await this.w.sched.delay(ORCH, t.at_ms - this.w.sched.now);
      return undefined;
    }
    // Bounded like the real engine's triggerTimeoutMs, but on the virtual clock, so a step
    // waiting for a failpoint that will not come does not let 30 s process timeouts fire first.
    return this.bounded(this.fired.get(i)!, TRIGGER_TIMEOUT_MS, `failpoint ${t.at}${phaseNote(st)} not reached within ${TRIGGER_TIMEOUT_MS} ms`);
  }

  private async verb(st: Step, held: Held | undefined): Promise<void> {
    // The device's world, rules and windows (device 1 unless the step names another).
    const { w, rules, windows } = this.dev(st);
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
        if (role === 'nse') rules.clearNseTimers();
        else rules.clearAppTimer();
        w.kill(role!, 'step');
        break;
      case 'pause':
        if (held) this.paused.set(held.role, [...(this.paused.get(held.role) ?? []), held]);
        return;
      case 'resume': {
        const key = procOn(role!, st.device);
        const hs = this.paused.get(key) ?? [];
        this.paused.delete(key);
        for (const h of hs) h.release();
        break;
      }
      case 'foreground':
        release();
        windows.opened();
        await rules.foreground();
        return;
      case 'tap':
        release();
        await rules.tap(w.queueIds[Number(args.queue ?? 0)]!);
        return;
      case 'background':
        rules.background(args.task !== false);
        break;
      case 'expire':
        if (role === 'nse') rules.expireNse('step');
        else rules.expireApp('step');
        break;
      case 'lock-device':
        w.h.ok(ORCH, 'lock-device', {});
        w.setDeviceLocked(true);
        break;
      case 'unlock-device':
        rules.unlockDevice(false);
        break;
      case 'send':
        for (let k = 0; k < Number(args.count ?? 1); k++) {
          w.send(Number(args.queue ?? 0), Number(args.sender ?? 0), args.notification !== false, Number(args.bytes ?? 64), args.poison === true);
        }
        break;
      case 'push':
        w.deliverPush(w.queueIds[Number(args.queue ?? 0)]!);
        break;
      case 'partition':
        w.relay.partitioned = true;
        w.relay.dropConnections();
        for (const d of this.devs) d.w.h.ok(ORCH, 'partition', {});
        break;
      case 'heal':
        for (const d of this.devs) d.rules.heal(false);
        break;
      case 'power-cut':
        rules.clearAppTimer();
        rules.clearNseTimers();
        w.powerCut();
        break;
      case 'restart-relay':
        for (const d of this.devs) d.w.h.invoke('relay', 'restart', {});
        w.relay.dropConnections();
        for (const d of this.devs) d.w.h.ok('relay', 'restart', {});
        break;
      case 'delay-push':
        for (const d of this.devs) delayPush(d.w, Number(args.ms ?? 0));
        break;
      case 'wait':
        release();
        await w.sched.delay(ORCH, Number(args.ms ?? 0));
        return;
      case 'token-change':
      case 'logout':
      case 'login':
        accountStep(w, st.do);
        break;
      case 'settings':
      case 'refresh':
      case 'silent-push':
      case 'force-quit':
      case 'app-send':
        release();
        await windows.verb(st.do, args);
        return;
    }
    release();
  }

  /** End of the steps: no more holds; heal every fault, thaw everything, app to the front. */
  async healAll(): Promise<void> {
    this.disarm();
    // Every device: the final heal and convergence cover each of them.
    await Promise.all(
      this.devs.map((d) => {
        d.windows.opened();
        return d.rules.healAll();
      }),
    );
  }
}

/** ` (phase suspending)` for a phase-valued trigger, for the timeout message. */
function phaseNote(st: Step): string {
  const ph = (st.when as { phase?: string } | undefined)?.phase;
  return ph ? ` (phase ${ph})` : '';
}

/** The push-token verbs (docs/scenarios.md): the OS rotates the token, the user logs out / in (./push-tokens.ts). */
function accountStep(w: FastWorld, verb: 'token-change' | 'logout' | 'login'): void {
  if (verb === 'token-change') {
    w.tokens.change();
    w.h.ok(ORCH, 'token-change', {});
    // As an IPC command: a frozen app hears it when thawed; an app not running reads it at launch.
    w.postAppCall(() => w.tokens.announce());
    return;
  }
  // The user does it in the app's UI: with no app running the step does nothing.
  const sent = w.postAppCall((app) => (verb === 'logout' ? app.logout() : app.login()));
  w.h.ok(ORCH, verb, sent ? {} : { skipped: 'app not running' });
}

/** The process as triggers and `pause`/`resume` name it: `app` on device 1, `app@2` on device 2. */
function procOn(proc: string, device: number | undefined): string {
  return device === undefined || device === 1 ? proc : `${proc}@${device}`;
}

/** `delay-push`: hold the device's push deliveries for `ms` (0 releases them). */
function delayPush(w: FastWorld, ms: number): void {
  w.pushesHeld = true;
  if (ms > 0) w.sched.setTimer(ORCH, ms, () => w.releasePushes());
  else w.releasePushes();
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}
