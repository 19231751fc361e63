import { suspendedAnswersLast } from '../../src/core/session/events.js';
import type { EventMsg } from '../../src/device/ipc.js';
import type { ManagedProc } from '../../src/device/proc.js';
import type { HistoryRecorder } from '../history/index.js';
import { type Budgets, type Scenario, type Step } from '../scenario/index.js';
import { Observer } from './observer.js';
import { AccountSteps } from './account.js';
import { relayTap } from './relay-tap.js';
import { IosRules } from './rules.js';
import { IosTimers } from './ios-timers.js';
import { Senders, type SentMessage } from './sender.js';
import { Triggers, type Held } from './triggers.js';
import { RealWindows } from './windows.js';
import type { SimWorld } from './world.js';

type Role = 'app' | 'nse';


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
 * The real engine's state and iOS rules (./engine.ts adds the steps): the device's events, freezes
 * checked against the kernel, the foreground with its yield, the final heal.
 */
export abstract class EngineCore {
  readonly observer: Observer;
  readonly rules: IosRules;
  readonly triggers: Triggers;
  readonly senders: Senders;
  readonly timers: IosTimers;
  readonly windows: RealWindows;
  readonly harnessErrors: string[] = [];
  protected readonly t0 = Date.now();
  /** The run's end (`stop`): no more freezes. */
  protected ended = false;
  /** Per step id: settles when that step has run (or could not), for `after` (it may still be running: `concurrent`). */
  protected readonly done = new Map<string, { p: Promise<void>; settle: () => void }>();
  /** Held by `pause` steps, per process: a `resume` lets all of them go (a second pause must not orphan the first). */
  protected readonly paused = new Map<Role, Held[]>();
  /** Pids frozen the normal way (after reporting `suspended`): the final heal leaves them frozen. */
  protected readonly frozenSuspended = new Set<number>();
  protected readonly frozenListeners = new Set<() => void>();
  /** Pushes the device handed to each NSE pid (against its `push-start` events: pending requests). */
  protected readonly pushesTo = new Map<number, number>();
  /** Between the user's tap and `active` reaching the app. */
  protected appActivating = false;
  /** Triggers count hits from the first step on (the app's launch does not count). */
  protected stepsStarted = false;
  /** token-change / logout / login (./account.ts). */
  readonly account: AccountSteps;

  constructor(
    protected readonly w: SimWorld,
    protected readonly h: HistoryRecorder,
    protected readonly scenario: Scenario,
    budgets: Budgets & { nseExpiryCallback: boolean },
    seed: number,
    protected readonly opts: EngineOptions,
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
  protected readonly peers: this[] = [];
  /** Device 1's engine, for a peer (the steps run there). */
  protected root: this | null = null;
  addPeer(e: this): void {
    e.root = this;
    this.peers.push(e);
    this.senders.copies.push({ h: e.h, queues: e.w.queues, sent: e.senders.sent });
  }
  protected engineFor(st: Step): this {
    return this.engineOf(st.device ?? 1);
  }
  protected engineOf(device: number): this {
    return this.peers.find((e) => e.opts.device === device) ?? this;
  }
  /** This engine and its peers: world verbs (partition, heal, relay restart, held pushes) act on every device. */
  protected get all(): this[] {
    return [this, ...this.peers];
  }

  protected readonly queueIds = () => new Set(this.w.queues.map((q) => q.queueId));
  protected readonly onRelayDelete = (queueId: string, msgId: string) => {
    if (this.queueIds().has(queueId)) this.h.ok('relay', 'ack', { queueId, msgId });
  };

  now(): number {
    return Date.now() - this.t0;
  }

  proc(role: Role): ManagedProc | null {
    return role === 'app' ? this.w.device.app : this.w.device.nse;
  }

  protected onEvent(role: Role, e: EventMsg & { pid: number }): void {
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

  protected freeze(role: Role, why: string): void {
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

  protected pushesReleased(n: number): void {
    this.h.ok('orchestrator', 'delay-push.released', { pushes: n });
  }

  protected waitYielding(): Promise<void> {
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

  protected async activateApp(thread?: string): Promise<void> {
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
  protected readonly unheld = new Set<string>();
  /** Let a held process go (once), recording the end of the harness's hold — on its own device's engine. */
  protected unhold(held: Held): void {
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
