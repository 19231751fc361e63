/**
 * The iOS rules the fast orchestrator applies on the virtual clock (docs/processes.md "The device"), as
 * sim/orchestrator does with real processes: app background task → expiration warning →
 * freeze after the grace; NSE budget → time-will-expire (unless the scenario says the
 * callback never comes) → freeze after the grace; foreground makes a running NSE yield
 * first (bounded); the final heal brings everything back.
 */
import type { TimerHandle } from '../../src/core/host.js';
import { ORCH, type FastWorld } from './world.js';

/** How long the foreground app waits for a running NSE to yield (SimpleX and src/device: 10 s), scaled by timeFactor. */
export const YIELD_WAIT_MS = 10_000;

export class IosRules {
  private appTimer: TimerHandle | null = null;
  private nseTimer: TimerHandle | null = null;
  private nseFreezeTimer: TimerHandle | null = null;

  constructor(private readonly w: FastWorld) {
    w.onNsePush = () => this.startNseBudget();
    // A frozen process's budget timers end with it (as in the real engine).
    const freeze = w.freeze.bind(w);
    w.freeze = (role, why) => {
      if (role === 'nse') this.clearNseTimers();
      else this.clearAppTimer();
      return freeze(role, why);
    };
  }

  heal(final: boolean): void {
    this.w.relay.partitioned = false;
    this.w.h.ok(ORCH, 'heal', final ? { final: true } : {});
    // The app's realtime reconnects on its own backoff and runs its wake (src/core/session/app/realtime.ts).
  }

  unlockDevice(final: boolean): void {
    const { w } = this;
    w.h.ok(ORCH, 'unlock-device', final ? { final: true } : {});
    w.setDeviceLocked(false);
  }

  /**
   * The user taps the app. As the real engine's step, it waits for a running NSE to yield, then
   * tells the app — and does not wait for the app to apply it (its commands run in order, and one
   * may be held at a later step's failpoint); the final heal (`untilApplied`) does wait.
   */
  async foreground(untilApplied = false, thread?: string): Promise<void> {
    const { w } = this;
    this.clearAppTimer();
    w.appState = 'active';
    if (!w.proc('app')) w.launchApp(); // tapping the icon relaunches a dead app
    else w.thaw('app', 'foreground');
    const nse = w.proc('nse');
    if (nse && !nse.frozen) {
      // Bounded (10 s scaled); the wait ends on yielded (drained, suspended), a freeze or death.
      const bound = Math.max(1, YIELD_WAIT_MS * w.world.timeFactor);
      let gaveUp = false;
      const timeout = w.sched.delay(ORCH, bound).then(() => void (gaveUp = true));
      // As src/device: ask it to yield and wait for its `yielded` (drained, released).
      const n = (w.yieldsSent.get(nse) ?? 0) + 1;
      w.yieldsSent.set(nse, n);
      const yielded = w.nextEvent(nse, 'yielded', (f) => Number(f.yieldId ?? 0) >= n);
      void w.postNse((x) => x.yieldToApp('ipc', n));
      await Promise.race([yielded, timeout, w.stopped(nse)]);
      // As src/device ("NSE did not yield in time; app goes ahead"): recorded, so a history
      // shows why the app's GETs may overlap a receive the NSE has not finished.
      if (gaveUp) w.h.info(ORCH, 'yield.wait-timeout', { proc: 'nse', pid: nse.ctx.pid, waitedMs: bound });
    } else if (nse) {
      // Frozen: it cannot answer, so no wait — but it reads the app state first thing when thawed.
      w.tellAppActive();
    }
    // A tap on a notification (`thread`): the same foreground, routed to that conversation.
    const applied = w.postApp('active', thread !== undefined ? { thread } : {});
    if (untilApplied) await applied;
  }

  /** The user taps a notification of `queueId`'s conversation: the app comes to the front routed to it. */
  tap(queueId: string): Promise<void> {
    this.w.h.ok(ORCH, 'tap', { queueId, threadId: queueId });
    return this.foreground(false, queueId);
  }

  /** `task: false`: iOS granted no background task — no warning, frozen after `noTaskMs` (docs/processes.md "Background time"). */
  background(task = true): void {
    const { w } = this;
    this.clearAppTimer();
    w.appState = 'background';
    void w.postApp('background', task ? {} : { bgTask: false });
    void w.nseMayFetch();
    if (task) this.appTimer = w.sched.setTimer(ORCH, w.budgets.bgTaskMs, () => this.expireApp('budget'));
    else
      this.appTimer = w.sched.setTimer(ORCH, w.budgets.noTaskMs, () => {
        this.appTimer = null;
        if (w.appState === 'background') w.freeze('app', 'no-task-over');
      });
  }

  expireApp(why: string): void {
    const { w } = this;
    this.clearAppTimer();
    const p = w.proc('app');
    if (!p) return;
    w.appState = 'expiring';
    w.h.ok(ORCH, 'expire', { proc: 'app', pid: p.ctx.pid, why });
    void w.postApp('expiring');
    void w.nseMayFetch();
    this.appTimer = w.sched.setTimer(ORCH, w.budgets.nseGraceMs, () => {
      this.appTimer = null;
      if (w.appState === 'expiring') w.freeze('app', 'expiration-grace-over');
    });
  }

  startNseBudget(): void {
    if (this.nseTimer || this.nseFreezeTimer) return;
    this.nseTimer = this.w.sched.setTimer(ORCH, this.w.budgets.nseMs, () => {
      this.nseTimer = null;
      this.expireNse('budget');
    });
  }

  expireNse(why: string): void {
    const { w } = this;
    const p = w.proc('nse');
    if (!p || p.frozen) return;
    if (w.world.budgets.nseExpiryCallback === false) {
      // The scenario says iOS never delivers "time will expire": only the NSE's own timer saves it.
      w.h.info(ORCH, 'expire.skipped', { proc: 'nse', pid: p.ctx.pid, why: 'expiry callback never comes' });
    } else {
      w.h.ok(ORCH, 'expire', { proc: 'nse', pid: p.ctx.pid, why });
      void w.postNse((n) => n.expire());
    }
    if (this.nseFreezeTimer) w.sched.clearTimer(this.nseFreezeTimer);
    this.nseFreezeTimer = w.sched.setTimer(ORCH, w.budgets.nseGraceMs, () => {
      this.nseFreezeTimer = null;
      w.freeze('nse', 'budget-over');
    });
  }

  clearAppTimer(): void {
    if (this.appTimer) this.w.sched.clearTimer(this.appTimer);
    this.appTimer = null;
  }
  clearNseTimers(): void {
    for (const t of [this.nseTimer, this.nseFreezeTimer]) if (t) this.w.sched.clearTimer(t);
    this.nseTimer = this.nseFreezeTimer = null;
  }

  /** End of the steps: heal every fault, thaw everything, bring the app to the front. */
  async healAll(): Promise<void> {
    const { w } = this;
    this.heal(true);
    w.releasePushes();
    if (w.locked) this.unlockDevice(true);
    this.clearNseTimers();
    // As the real engine: an NSE frozen mid-work (a freeze step, budget over) is thawed; one that
    // suspended cleanly stays frozen, as on iOS.
    if (!w.proc('nse')?.frozenSuspended) w.thaw('nse', 'final');
    w.thaw('app', 'final');
    await this.foreground(true);
    // A user logged out at the end logs in again, so what waited at the relay is fetched (liveness).
    if (w.tokens.state.loggedOut && w.postAppCall((app) => app.login())) w.h.ok(ORCH, 'login', { final: true });
  }
}
