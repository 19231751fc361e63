import { NsekitError } from '../../src/core/errors.js';
import { suspendedAnswersLast } from '../../src/core/session/events.js';
import type { EventMsg } from '../../src/device/ipc.js';
import type { ManagedProc } from '../../src/device/proc.js';
import type { HistoryRecorder } from '../history/index.js';
import { OPTIONAL_TRIGGER_MS, stepDevice, type Budgets, type Scenario, type Step } from '../scenario/index.js';
import { StepWaits } from '../scenario/step-waits.js';
import { Observer } from './observer.js';
export { seededRng, type SentMessage } from './sender.js';
import { AccountSteps } from './account.js';
import { relayTap } from './relay-tap.js';
import { IosRules } from './rules.js';
import { IosTimers } from './ios-timers.js';
import { Senders, type SentMessage } from './sender.js';
import { Triggers, type Held } from './triggers.js';
import { RealWindows } from './windows.js';
import type { SimWorld } from './world.js';

type Role = 'app' | 'nse';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.max(0, ms)));

export interface EngineOptions {
  /** Bound on waiting for one step's trigger (run ms). */
  triggerTimeoutMs: number;
  /** Poll period of the NSE memory monitor (jetsam). */
  rssPollMs: number;
  /** Called as each step starts (progress display). */
  onStep?: (i: number, of: number, st: Step) => void;
  /** A two-device run: the device this engine drives (its triggers are the steps' on that device). */
  device?: number;
}

/**
 * Runs a scenario's steps against a started SimWorld and enforces the iOS
 * rules while it does: background-task budget → `expiring` → freeze; NSE
 * budget → time-will-expire → freeze; every freeze checked against the kernel
 * (0xdead10cc → SIGKILL); NSE RSS over budget → jetsam. Steps wait on events
 * (failpoint hits, other steps, run-time offsets), never on sleeps.
 */
export class Engine {
  readonly observer: Observer;
  readonly rules: IosRules;
  readonly triggers: Triggers;
  readonly senders: Senders;
  readonly timers: IosTimers;
  readonly windows: RealWindows;
  readonly harnessErrors: string[] = [];
  private readonly t0 = Date.now();
  /** Per step id: settles when that step has run (or could not), for `after` (it may still be running: `concurrent`). */
  /** The run's end (`stop`): no more freezes. */
  private ended = false;
  private readonly done = new Map<string, { p: Promise<void>; settle: () => void }>();
  /** Held by `pause` steps, per process: a `resume` lets all of them go (a second pause must not orphan the first). */
  private readonly paused = new Map<Role, Held[]>();
  /** Pids frozen the normal way (after reporting `suspended`): the final heal leaves them frozen. */
  private readonly frozenSuspended = new Set<number>();
  private readonly frozenListeners = new Set<() => void>();
  /** Pushes the device handed to each NSE pid (against its `push-start` events: pending requests). */
  private readonly pushesTo = new Map<number, number>();
  /** Between the user's tap and `active` reaching the app. */
  private appActivating = false;
  /** Triggers count hits from the first step on (the app's launch does not count). */
  private stepsStarted = false;
  /** token-change / logout / login (./account.ts). */
  readonly account: AccountSteps;

  constructor(
    private readonly w: SimWorld,
    private readonly h: HistoryRecorder,
    private readonly scenario: Scenario,
    budgets: Budgets & { nseExpiryCallback: boolean },
    seed: number,
    private readonly opts: EngineOptions,
  ) {
    this.observer = new Observer(h);
    this.account = new AccountSteps(w, h);
    this.rules = new IosRules(h, w.device.sharedDir, w.world.lockBackend);
    this.senders = new Senders(w, h, seed);
    this.timers = new IosTimers(w, h, this.rules, budgets, (role, why) => this.freeze(role, why), opts.rssPollMs);
    this.triggers = new Triggers(scenario, opts.device ?? 1);
    this.windows = new RealWindows(w, h, this.rules, this.timers, (r, why) => this.freeze(r, why));
    this.observer.onFp((role, hit, p) => {
      if (role === 'nse') this.timers.checkRss();
      if (!hit.pause) return;
      if (this.triggers.onPause(role, p, hit)) {
        // The scenario holds this process here: a stall of the harness's making (docs/invariants.md).
        this.h.info(role, 'harness.hold', { at: hit.name }, { pid: p.pid });
      } else p.releaseFailpoint(hit);
    });
    w.device.on('event', (role: Role, e: EventMsg & { pid: number }) => this.onEvent(role, e));
    w.device.on('push', (p: { pushId: string; suppressed?: boolean; cold?: boolean }) => {
      this.h.info('device', 'push', { pushId: p.pushId, suppressed: p.suppressed === true, cold: p.cold === true });
      // Handing a push to a frozen NSE thaws it (the device sends SIGCONT first).
      const nse = this.w.device.nse;
      if (!p.suppressed && nse) this.pushesTo.set(nse.pid, (this.pushesTo.get(nse.pid) ?? 0) + 1);
      if (!p.suppressed && nse && !nse.stopped) this.rules.thawed('nse', nse.pid, 'push');
      if (!p.suppressed) this.timers.startNseBudget();
    });
    relayTap.on('delete', this.onRelayDelete);
  }

  get sent(): SentMessage[] {
    return this.senders.sent;
  }

  /** A two-device run: device 2's engine (./second-device.ts); steps with `device: 2` run on it. */
  private readonly peers: Engine[] = [];
  /** Device 1's engine, for a peer (the steps run there). */
  private root: Engine | null = null;
  addPeer(e: Engine): void {
    e.root = this;
    this.peers.push(e);
    this.senders.copies.push({ h: e.h, queues: e.w.queues, sent: e.senders.sent });
  }
  private engineFor(st: Step): Engine {
    return this.engineOf(st.device ?? 1);
  }
  private engineOf(device: number): Engine {
    return this.peers.find((e) => e.opts.device === device) ?? this;
  }
  /** This engine and its peers: world verbs (partition, heal, relay restart, held pushes) act on every device. */
  private get all(): Engine[] {
    return [this, ...this.peers];
  }

  private readonly queueIds = () => new Set(this.w.queues.map((q) => q.queueId));
  private readonly onRelayDelete = (queueId: string, msgId: string) => {
    if (this.queueIds().has(queueId)) this.h.ok('relay', 'ack', { queueId, msgId });
  };

  now(): number {
    return Date.now() - this.t0;
  }

  proc(role: Role): ManagedProc | null {
    return role === 'app' ? this.w.device.app : this.w.device.nse;
  }

  private onEvent(role: Role, e: EventMsg & { pid: number }): void {
    const p = role === 'app' ? this.w.device.app : this.w.device.nseHistory.find((x) => x.pid === e.pid) ?? null;
    if (e.name === 'ready' && p) {
      this.observer.attach(role, p);
      if (this.stepsStarted) this.triggers.armProcess(role, p);
      this.timers.baseline(p.pid);
    }
    if (p) this.rules.sync(role, p); // it sent an event: it runs
    this.observer.event(role, e);
    if (e.name !== 'suspended' || !p) return;
    // iOS freezes a process once it has suspended (the app only if it is still on its way out).
    if (role === 'nse' && this.w.device.nse === p) {
      // A push handed to it after it began suspending makes this `suspended` stale: the NSE is
      // already waking for that push, and iOS does not freeze an extension with a request in
      // hand. Freeze at its next `suspended` instead (and undo the device's own freeze).
      const pending = (this.pushesTo.get(p.pid) ?? 0) - p.events.filter((x) => x.name === 'push-start').length;
      if (pending > 0) {
        this.h.info('orchestrator', 'freeze.deferred', { proc: 'nse', pid: p.pid, pendingPushes: pending });
        setImmediate(() => {
          if (p.alive && p.stopped && !this.rules.isFrozen(p.pid)) p.signal('SIGCONT');
        });
      } else this.freeze('nse', 'suspended');
    }
    // Only when the report answers the last lifecycle command sent: an older suspension finishing
    // while a newer command is on its way is not the end of the app's background time.
    if (role === 'app' && !this.appActivating && (this.w.device.appState === 'expiring' || this.w.device.appState === 'suspend') && suspendedAnswersLast(e, p.lifecycleSent)) this.freeze('app', 'suspended');
  }

  // ---- iOS rules -------------------------------------------------------------------------

  private freeze(role: Role, why: string): void {
    const p = this.proc(role);
    // Stopped (the run's end): the device is shutting its processes down; a process thawed for that
    // and reporting `suspended` on the way must not be frozen again, or it cannot answer `shutdown`.
    if (!p || this.ended) return;
    if (role === 'nse') this.timers.clearNse();
    else this.timers.clearApp();
    if (this.rules.freeze(role, p, why) === 'frozen' && why === 'suspended') this.frozenSuspended.add(p.pid);
    else this.frozenSuspended.delete(p.pid);
    if (role === 'nse') for (const l of [...this.frozenListeners]) l();
  }

  // ---- steps -----------------------------------------------------------------------------

  async runSteps(): Promise<void> {
    const steps = this.scenario.steps;
    for (const e of this.all) {
      e.stepsStarted = true;
      for (const role of ['app', 'nse'] as const) {
        const p = e.proc(role);
        if (p?.alive) e.triggers.armProcess(role, p);
      }
    }
    // Which step is in progress when a trigger fires (a later step that waited behind it is recorded).
    const waits = new StepWaits(() => this.now());
    steps.forEach((_, i) => void this.triggers.firedFor(i)?.then(() => waits.fired(i)));
    // Verbs still running: a step waits for them unless it is `concurrent` (docs/scenarios.md).
    const inflight: Promise<void>[] = [];
    for (const st of steps) {
      let settle!: () => void;
      if (st.id) this.done.set(st.id, { p: new Promise<void>((r) => (settle = r)), settle: () => settle() });
    }
    const settle = (st: Step) => st.id && this.done.get(st.id)?.settle();
    for (let i = 0; i < steps.length; i++) {
      const st = steps[i]!;
      if (!st.concurrent) await Promise.all(inflight.splice(0));
      let held: Held | undefined;
      try {
        held = await this.trigger(i, st);
      } catch (e) {
        if ((st.when as { optional?: boolean } | undefined)?.optional) {
          this.h.info('orchestrator', 'step.skipped', { i, do: st.do, id: st.id, why: (e as Error).message });
          settle(st);
          continue;
        }
        this.harnessErrors.push(`step ${i} (${st.do}): ${(e as Error).message}`); // an NsekitError's message starts with its code
        this.h.fail('orchestrator', 'step', (e as Error).message, { i, do: st.do, id: st.id, code: (e as NsekitError).code });
        settle(st);
        continue;
      }
      this.opts.onStep?.(i, steps.length, st);
      const waited = held ? waits.turn(i, st) : null;
      if (waited) this.h.info('orchestrator', 'step.waited', waited);
      this.h.invoke('orchestrator', 'step', { i, do: st.do, id: st.id, proc: st.proc, args: st.args, ...(st.concurrent ? { concurrent: true } : {}), ...(held ? { at: held.hit.name, pid: held.proc.pid } : {}), ...(this.peers.length ? { device: stepDevice(st) } : {}) });
      waits.begin(i, st.do);
      inflight.push(
        this.runVerb(i, st, held).finally(() => {
          waits.end(i);
          settle(st);
        }),
      );
    }
    await Promise.all(inflight);
  }

  private async runVerb(i: number, st: Step, held: Held | undefined): Promise<void> {
    // A step on device 2 runs on its engine (its processes, timers, rules, history tag).
    const e = this.engineFor(st);
    try {
      await e.verb(st, held);
      this.h.ok('orchestrator', 'step', { i, do: st.do, id: st.id });
    } catch (err) {
      this.harnessErrors.push(`step ${i} (${st.do}): ${(err as Error).message}`);
      this.h.fail('orchestrator', 'step', (err as Error).message, { i, do: st.do, id: st.id });
      if (held && st.do !== 'pause') e.unhold(held);
    }
  }

  private async trigger(i: number, st: Step): Promise<Held | undefined> {
    const w = st.when as { at_ms?: number; after?: string; at?: string; optional?: boolean } | undefined;
    if (!w) return undefined;
    if (w.at_ms !== undefined) {
      await sleep(w.at_ms - this.now());
      return undefined;
    }
    if (w.after !== undefined) {
      await this.done.get(w.after)?.p;
      return undefined;
    }
    // The engine of the device whose process the trigger waits for (not necessarily the step's).
    const triggers = this.engineOf((w as { device?: number }).device ?? 1).triggers;
    const fired = triggers.firedFor(i)!;
    // An optional trigger gives up as soon as the fast mode's does: the run goes on without it.
    const bound = w.optional ? Math.min(this.opts.triggerTimeoutMs, OPTIONAL_TRIGGER_MS) : this.opts.triggerTimeoutMs;
    let t: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, rej) => {
      const ph = (w as { phase?: string }).phase;
      t = setTimeout(() => rej(new NsekitError('SIM_TRIGGER_TIMEOUT', `failpoint ${w.at}${ph ? ` (phase ${ph})` : ''} not reached within ${bound} ms`, { step: i, at: w.at })), bound);
    });
    try {
      return await Promise.race([fired, timeout]);
    } catch (e) {
      triggers.disarm(w.at);
      throw e;
    } finally {
      clearTimeout(t);
    }
  }

  private async verb(st: Step, held: Held | undefined): Promise<void> {
    const dev = this.w.device;
    const role = st.proc as Role | undefined;
    const args = (st.args ?? {}) as Record<string, number | boolean | undefined>;
    const release = () => held && this.unhold(held);
    let p: Promise<void> = Promise.resolve();
    switch (st.do) {
      case 'freeze':
        this.freeze(role!, 'step');
        release(); // queued: the process reads it when thawed
        break;
      case 'thaw':
        this.thaw(role!, 'step');
        release();
        break;
      case 'kill': {
        const proc = this.proc(role!);
        if (proc) {
          this.rules.kill(role!, proc, 'step');
          p = proc.whenExited(); // the step ends when the device has seen the exit (a relaunch follows)
        }
        if (role === 'nse') {
          this.timers.clearNse();
          for (const l of [...this.frozenListeners]) l();
        }
        else this.timers.clearApp();
        release();
        break;
      }
      case 'power-cut': {
        // The kernel's page cache survives here (only the processes die): with the default
        // synchronous = FULL nothing committed is lost anyway. Fast mode drops unsynced commits.
        this.h.ok('orchestrator', 'power-cut', { unsyncedCommitsLost: 'not modelled in real mode' });
        const dead: Promise<void>[] = [];
        for (const r of ['app', 'nse'] as const) {
          const proc = this.proc(r);
          if (!proc) continue;
          this.rules.kill(r, proc, 'power-cut');
          dead.push(proc.whenExited());
        }
        this.timers.clearNse();
        this.timers.clearApp();
        for (const l of [...this.frozenListeners]) l();
        // The step ends when both are gone: a foreground right after must relaunch the app, not
        // send `active` to a process whose exit the device has not seen yet.
        p = Promise.all(dead).then(() => {});
        release();
        break;
      }
      case 'pause':
        if (held) this.paused.set(held.role, [...(this.paused.get(held.role) ?? []), held]);
        break;
      case 'resume': {
        const hs = this.paused.get(role!) ?? [];
        this.paused.delete(role!);
        for (const hp of hs) this.unhold(hp);
        release();
        break;
      }
      case 'foreground':
        p = this.foreground();
        // The moment the activation is under way (the NSE was asked to yield), let the held process go.
        await Promise.race([p, this.waitYielding()]);
        release();
        break;
      case 'tap': {
        // A tap on a notification of this conversation: the foreground, routed to its thread.
        const queueId = this.w.queues[Number(args.queue ?? 0)]!.queueId;
        this.h.ok('orchestrator', 'tap', { queueId, threadId: queueId });
        p = this.foreground(queueId);
        await Promise.race([p, this.waitYielding()]);
        release();
        break;
      }
      case 'background':
        this.timers.clearApp();
        // `task: false`: iOS granted no background task (docs/processes.md "Background time").
        p = args.task === false ? dev.appLifecycle('background', { bgTask: false }).then(() => this.timers.startNoTask()) : dev.appLifecycle('background').then(() => this.timers.startBackgroundTask());
        release();
        break;
      case 'expire':
        if (role === 'nse') this.timers.expireNse('step');
        else p = this.timers.expireApp('step');
        release();
        break;
      case 'lock-device':
        dev.lock();
        this.h.ok('orchestrator', 'lock-device', {});
        release();
        break;
      case 'unlock-device':
        dev.unlock();
        this.h.ok('orchestrator', 'unlock-device', {});
        release();
        break;
      case 'send':
        p = this.senders.send(args);
        release();
        break;
      case 'push': {
        const q = this.w.queues[Number(args.queue ?? 0)]!;
        this.w.pushHold.inject({ nids: [{ notifierId: q.notifierId, sealed: '' }] });
        release();
        break;
      }
      case 'partition':
        this.w.proxy.cut();
        for (const e of this.all) e.h.ok('orchestrator', 'partition', {});
        release();
        break;
      case 'heal':
        this.w.proxy.restore();
        for (const e of this.all) e.h.ok('orchestrator', 'heal', {});
        release();
        break;
      case 'restart-relay':
        for (const e of this.all) e.h.invoke('relay', 'restart', {});
        p = this.w.restartRelay().then(() => this.all.forEach((e) => void e.h.ok('relay', 'restart', {})));
        release();
        break;
      case 'delay-push':
        for (const e of this.all) e.w.pushHold.holdFor(Number(args.ms ?? 0), (n) => e.pushesReleased(n));
        release();
        break;
      case 'wait':
        release();
        p = sleep(Number(args.ms ?? 0));
        break;
      case 'token-change':
      case 'logout':
      case 'login':
        p = this.account.step(st.do);
        release();
        break;
      case 'settings':
      case 'refresh':
      case 'silent-push':
      case 'force-quit':
      case 'app-send':
        release();
        p = this.windows.verb(st.do, args);
        break;
    }
    await p;
  }

  private pushesReleased(n: number): void {
    this.h.ok('orchestrator', 'delay-push.released', { pushes: n });
  }

  private waitYielding(): Promise<void> {
    const nse = this.w.device.nse;
    if (!nse?.alive || nse.stopped) return Promise.resolve();
    const from = nse.events.length;
    return nse.waitFor((e) => e.name === 'yielding', { from, timeoutMs: 5_000 }).then(() => {}, () => {});
  }

  thaw(role: Role, why: string): void {
    const p = this.proc(role);
    if (!p?.alive || !p.stopped) return;
    this.w.device.thaw(p); // SIGCONT + whatever lock/unlock happened meanwhile
    this.rules.thawed(role, p.pid, why);
  }

  /** Bring the app to the front; a dead app is relaunched (as tapping its icon would). */
  async foreground(thread?: string): Promise<void> {
    this.timers.clearApp();
    const dev = this.w.device;
    if (!dev.app?.alive) {
      this.h.invoke('orchestrator', 'launch', { proc: 'app' });
      const p = await dev.launchApp(thread !== undefined ? { thread } : {});
      this.h.ok('orchestrator', 'launch', { proc: 'app', pid: p.pid });
      return;
    }
    // The user tapped the app: from here iOS no longer freezes it, even if its earlier
    // suspension completes while it waits for the NSE.
    this.appActivating = true;
    try {
      await this.activateApp(thread);
    } finally {
      this.appActivating = false;
    }
  }

  private async activateApp(thread?: string): Promise<void> {
    const dev = this.w.device;
    // From here on the app is in front (as src/device's appLifecycle): a `nseMayFetch` still
    // pending from an earlier background/expiry must not tell the NSE "app left" after the yield.
    dev.appState = 'active';
    this.thaw('app', 'foreground');
    // The app wins: the NSE is asked to yield and the app waits for it (bounded) — but not for an
    // NSE that iOS has frozen or killed meanwhile, which will never answer.
    const nse = dev.nse;
    if (nse?.alive && !nse.stopped) {
      const from = nse.events.length;
      nse.send({ type: 'yield' });
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.frozenListeners.delete(done);
          resolve();
        };
        const t = setTimeout(done, 5_000);
        this.frozenListeners.add(done);
        nse.waitFor((e) => e.name === 'yielded', { from, timeoutMs: 5_000 }).then(done, done);
      });
    }
    // Then `active` straight to the app: the device's appLifecycle would ask the NSE to yield a second time.
    this.thaw('app', 'foreground');
    dev.appState = 'active';
    dev.app?.send({ type: 'lifecycle', event: 'active', ...(thread !== undefined ? { thread } : {}) });
  }

  /** End of the steps: no more pausing, every held process released. */
  releaseAll(): void {
    for (const e of this.peers) e.triggers.disarm();
    this.triggers.disarm();
    for (const [, hs] of this.paused) for (const hp of hs) this.unhold(hp);
    this.paused.clear();
    this.w.pushHold.clearTimer();
  }

  /** Heal every fault: network, held pushes, device lock; thaw everything frozen. */
  private readonly unheld = new Set<string>();
  /** Let a held process go (once), recording the end of the harness's hold — on its own device's engine. */
  private unhold(held: Held): void {
    const owner = (this.root ?? this).all.find((e) => e.w.device.app === held.proc || e.w.device.nseHistory.includes(held.proc));
    if (owner && owner !== this) return owner.unhold(held);
    const key = `${held.proc.pid}:${held.hit.seq}`;
    if (this.unheld.has(key)) return;
    this.unheld.add(key);
    this.h.info(held.role, 'harness.release', { at: held.hit.name }, { pid: held.proc.pid });
    held.proc.releaseFailpoint(held.hit);
  }

  healAll(): void {
    this.releaseAll();
    this.w.proxy.restore();
    this.h.ok('orchestrator', 'heal', { final: true });
    const n = this.w.pushHold.release();
    if (n) this.pushesReleased(n);
    if (this.w.device.locked) {
      this.w.device.unlock();
      this.h.ok('orchestrator', 'unlock-device', { final: true });
    }
    this.timers.clearNse();
    // An NSE frozen mid-work (a freeze step, budget over) is thawed; one that suspended cleanly stays
    // frozen, as on iOS — thawing it would only make it suspend again while the app asks it to yield.
    const nse = this.w.device.nse;
    if (nse && !this.frozenSuspended.has(nse.pid)) this.thaw('nse', 'final');
    this.thaw('app', 'final');
  }

  stop(): void {
    this.ended = true;
    this.timers.stop();
    this.w.pushHold.clearTimer();
    relayTap.off('delete', this.onRelayDelete);
  }
}
