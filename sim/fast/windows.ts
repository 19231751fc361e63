/**
 * The fast mode's background windows (docs/processes.md "Background windows"), as src/device
 * and sim/orchestrator apply them to the real app process: the user's refresh setting (kept by
 * the device, handed to every app launch), a refresh window, a silent push (delivered to the app
 * unless the user force-quit it; relaunched into the background if it is not running; throttled
 * per hour, then the sender falls back to a visible push — the NSE path), and iOS's end of a
 * window: the app is frozen when its window work is done, or at the budget's end whatever it holds
 * (the 0xdead10cc check). The window's work itself is the app session's (src/core/session/app).
 */
import type { WindowKind } from '../../src/core/session/index.js';
import type { IosRules } from './ios-rules.js';
import { ORCH, type FastWorld } from './world.js';
import { runWindowVerb, type WindowVerb, type WindowVerbTarget } from '../scenario/window-verbs.js';

/** iOS's budget for a refresh task or a silent push (~30 s; scaled by timeFactor). */
export const WINDOW_BUDGET_MS = 30_000;
/** Background pushes per token per rolling hour before APNs throttles (src/relay/push-gateway.ts's default). */
export const SILENT_PER_HOUR = 3;
const HOUR = 3_600_000;

export class FastWindows implements WindowVerbTarget {
  /** The user swiped the app away: no silent push reaches it until it is opened again. */
  forceQuit = false;
  /** The device's copy of the user's setting (UserDefaults): every app launch gets it. */
  backgroundRefresh = false;
  private readonly silentAt: number[] = [];
  /** The app was just launched for the next window. */
  private launched = false;

  constructor(
    private readonly w: FastWorld,
    private readonly rules: IosRules,
  ) {
    // Every launch (the user's, a relaunch for a window) reads the stored setting first.
    const launch = w.launchApp.bind(w);
    w.launchApp = () => {
      const app = launch();
      this.afterLaunch();
      return app;
    };
  }

  /** One of the background-window verbs (docs/scenarios.md; arguments read in sim/scenario/window-verbs.ts). */
  verb(v: WindowVerb, args: Record<string, number | boolean | undefined>): Promise<void> {
    return runWindowVerb(this, v, args);
  }

  /** The Settings screen's toggle. */
  async settings(on: boolean): Promise<void> {
    this.backgroundRefresh = on;
    this.w.h.ok(ORCH, 'settings', { backgroundRefresh: on });
    // Not awaited: like the real device's IPC command, a frozen app reads it when thawed (in order).
    void this.w.postAppFn((a) => a.onSettings({ type: 'settings', backgroundRefresh: on }));
  }

  /** A launch hands the app the stored setting first (before any window reaches it). */
  private afterLaunch(): void {
    if (this.backgroundRefresh) void this.w.postAppFn((a) => a.onSettings({ type: 'settings', backgroundRefresh: true }));
  }

  /** iOS runs the refresh task: a window for the app if it is running (BGAppRefreshTask does not relaunch a force-quit app). */
  async refresh(budgetMs = WINDOW_BUDGET_MS): Promise<void> {
    const { w } = this;
    if (!w.proc('app') && (this.forceQuit || !this.relaunchForWindow('refresh'))) {
      w.h.info('device', 'bg-window.not-delivered', { kind: 'refresh', why: this.forceQuit ? 'force-quit' : 'not running' });
      return;
    }
    await this.grant('refresh', budgetMs);
  }

  /**
   * A `content-available` push for `queue`: throttled (forced by the scenario, or over the hourly
   * budget) → the sender's visible fallback, a mutable-content push to the NSE; force-quit → not
   * delivered (the message's own alert push, if it has one, still reaches the NSE).
   */
  async silentPush(queue: number, throttled = false, budgetMs = WINDOW_BUDGET_MS): Promise<void> {
    const { w } = this;
    const queueId = w.queueIds[queue] ?? w.queueIds[0]!;
    const now = w.sched.now;
    while (this.silentAt.length && now - this.silentAt[0]! >= HOUR) this.silentAt.shift();
    if (throttled || this.silentAt.length >= SILENT_PER_HOUR) {
      w.h.info('device', 'silent-push', { queueId, throttled: true, fallback: 'alert' });
      w.deliverPush(queueId);
      return;
    }
    this.silentAt.push(now);
    if (this.forceQuit) {
      w.h.info('device', 'silent-push', { queueId, delivered: false, why: 'force-quit' });
      return;
    }
    if (!w.proc('app')) this.relaunchForWindow('silent-push');
    w.h.info('device', 'silent-push', { queueId, delivered: true });
    await this.grant('silent-push', budgetMs, queueId);
  }

  /** The user swipes the app away in the switcher: killed, and marked so (unlike a jetsam or iOS kill). */
  forceQuitApp(): void {
    this.rules.clearAppTimer();
    this.forceQuit = true;
    this.w.kill('app', 'force-quit');
  }

  /** The user writes `count` messages in the app: its outbox (sent when it may: in front, or in a window). */
  appSend(queue: number, count = 1): void {
    const queueId = this.w.queueIds[queue] ?? this.w.queueIds[0]!;
    // Only a running app has a user typing in it (in front, or just left): not a frozen or suspended one.
    const p = this.w.proc('app');
    if (!p || p.frozen || (p.phase.phase !== 'active' && p.phase.phase !== 'background')) {
      this.w.h.info(ORCH, 'app-send.skipped', { why: !p ? 'not running' : p.frozen ? 'frozen' : p.phase.phase });
      return;
    }
    for (let i = 0; i < count; i++) {
      const clientId = `out${++this.outSeq}`;
      void this.w.postAppFn((a) => a.send(queueId, `app message ${clientId}`, clientId));
    }
    this.w.h.ok(ORCH, 'app-send', { queueId, count });
  }
  private outSeq = 0;

  /** Foreground relaunches a force-quit app: silent pushes reach it again. */
  opened(): void {
    this.forceQuit = false;
  }

  /** Launch the app into the background (not in front) for a window. */
  private relaunchForWindow(kind: WindowKind): boolean {
    const { w } = this;
    w.appState = 'background';
    w.launchApp();
    this.launched = true;
    w.h.info('device', 'launch.background', { kind });
    return true;
  }

  private async grant(kind: WindowKind, budgetMs: number, queueId?: string): Promise<void> {
    const { w } = this;
    const p = w.proc('app');
    if (!p) return;
    const budget = Math.max(1, Math.floor(budgetMs * w.world.timeFactor));
    // Woken for the window (launched for it, frozen, suspended or on its way out): iOS ends it with the window.
    const woken = this.launched || p.frozen || p.phase.phase === 'suspended' || w.appState === 'expiring';
    this.launched = false;
    if (p.frozen) w.thaw('app', kind);
    // Running for the window now: no longer on its way out under an earlier expiry (whose freeze
    // would stop the window before it starts); the window's end decides the next freeze.
    if (w.appState === 'expiring') {
      this.rules.clearAppTimer();
      w.appState = 'background';
    }
    w.h.ok(ORCH, 'bg-window', { kind, budgetMs: budget, pid: p.ctx.pid });
    // iOS's end of the window: whatever the app still holds then, it is frozen (the 0xdead10cc check).
    const over = w.sched.setTimer(ORCH, budget, () => {
      // An app that was already running in the background keeps its own background time instead.
      if (woken && w.appState !== 'active' && w.proc('app') === p && !p.frozen) w.freeze('app', 'window-over');
    });
    // The command waits behind the app's earlier ones (a wake, a lock…): the step waits at most the budget.
    const done = w.postAppFn((a) => a.onWindow({ type: 'window', kind, budgetMs: budget, ...(queueId ? { queueId } : {}) }));
    await Promise.race([done, w.sched.delay(ORCH, budget + 1)]);
    w.sched.clearTimer(over);
    // The app ended its window (suspended): iOS suspends it — unless the user opened it meanwhile.
    if (w.appState !== 'active' && w.proc('app') === p && !p.frozen && p.phase.phase === 'suspended') w.freeze('app', 'window-done');
  }
}
