import { randomBytes } from 'node:crypto';
import { WINDOW_BUDGET_MS, type WindowOutcome } from '../../src/device/background.js';
import { pushSilentOrVisible } from '../../src/relay/silent-push.js';
import type { HistoryRecorder } from '../history/index.js';
import type { IosRules } from './rules.js';
import type { IosTimers } from './ios-timers.js';
import type { SimWorld } from './world.js';
import { runWindowVerb, type WindowVerb, type WindowVerbTarget } from '../scenario/window-verbs.js';

/**
 * Earliest freeze of an app still working at its window's end, in run ms. timeFactor compresses
 * iOS time, not our processes' speed: a 5 s window is 50 ms scaled, and the app's own margin (it
 * has suspended by 90 % of the budget) is then 5 ms — less than a Node process's timer and IPC
 * jitter, so a freeze exactly at the budget lands mid-close (a harness artefact, found by explore
 * --mode real seed 1 run 66). As the expiry → freeze grace (MIN_GRACE_MS), it never goes below this;
 * an app that ignores its budget is still frozen holding its files. Fast mode keeps the exact budget.
 */
export const MIN_WINDOW_FREEZE_MS = 1_000;

/**
 * The real engine's background-window verbs (docs/scenarios.md): `settings`, `refresh`,
 * `silent-push`, `force-quit`, `app-send`, applied to the real device (src/device/background.ts)
 * with iOS's end of a window: the app is frozen when its window is over (it reported
 * `suspended`), or at the budget's end whatever it holds (the 0xdead10cc check) — unless the user
 * opened it meanwhile. A silent push goes through the real push gateway (`type: 'background'`,
 * throttled per token per hour); when it is throttled (429, or `throttled: true` in the step) the
 * sender falls back to a visible push for the queue, which the NSE handles.
 */
export class RealWindows implements WindowVerbTarget {
  constructor(
    private readonly w: SimWorld,
    private readonly h: HistoryRecorder,
    private readonly rules: IosRules,
    private readonly timers: IosTimers,
    private readonly freeze: (role: 'app', why: string) => void,
  ) {}

  /** One of the background-window verbs (docs/scenarios.md; arguments read in sim/scenario/window-verbs.ts). */
  verb(v: WindowVerb, args: Record<string, number | boolean | undefined>): Promise<void> {
    return runWindowVerb(this, v, args);
  }

  private scaled(ms: number | undefined): number {
    return Math.max(1, Math.floor((ms ?? WINDOW_BUDGET_MS) * this.w.world.timeFactor));
  }

  settings(backgroundRefresh: boolean): void {
    this.w.device.background.settings(backgroundRefresh);
    this.h.ok('orchestrator', 'settings', { backgroundRefresh });
  }

  async refresh(budgetMs?: number): Promise<void> {
    await this.window('refresh', this.scaled(budgetMs), (b) => this.w.device.background.grant('refresh', b));
  }

  async silentPush(queue: number, throttled: boolean, budgetMs?: number): Promise<void> {
    const q = this.w.queues[queue] ?? this.w.queues[0]!;
    const from = this.w.device.events.length;
    const visible = { nids: [{ notifierId: q.notifierId, sealed: '' }] };
    if (throttled) {
      // The scenario says APNs throttles this one: the sender's fallback, without spending the gateway's hourly budget.
      this.h.info('device', 'silent-push', { queueId: q.queueId, throttled: true, fallback: 'alert' });
      this.w.pushHold.inject(visible);
      return;
    }
    const outcome = await pushSilentOrVisible(this.w.gateway.url, this.w.device.token, { queueId: q.queueId, budgetMs: this.scaled(budgetMs) }, visible);
    if (outcome !== 'silent') {
      this.h.info('device', 'silent-push', { queueId: q.queueId, throttled: outcome === 'fallback', fallback: outcome === 'fallback' ? 'alert' : null, outcome });
      return;
    }
    if (this.w.device.background.forceQuit) {
      this.h.info('device', 'silent-push', { queueId: q.queueId, delivered: false, why: 'force-quit' });
      return;
    }
    this.h.info('device', 'silent-push', { queueId: q.queueId, delivered: true });
    // The gateway → push hold → device path grants the window; wait for its end here.
    await this.window('silent-push', this.scaled(budgetMs), async (b) => {
      // A relaunch into the background comes first (bounded as the device's own launch wait).
      const e = await this.w.device.waitEvent('app', 'bg-window', (x) => x.state === 'end' || x.state === 'skip', { from, timeoutMs: b + 10_000 }).catch(() => null);
      return e ? (e.state === 'skip' ? 'skipped' : 'done') : 'timeout';
    });
  }

  async forceQuitApp(): Promise<void> {
    const p = this.w.device.app;
    this.timers.clearApp();
    this.w.device.background.forceQuit = true;
    if (!p?.alive) return;
    this.rules.kill('app', p, 'force-quit');
    await p.whenExited();
  }

  /** The user writes messages in the app: its outbox (sent when the app may, e.g. in a window). */
  appSend(queue: number, count: number): void {
    const app = this.w.device.app;
    const q = this.w.queues[queue] ?? this.w.queues[0]!;
    // Only a running app has a user typing in it (in front, or just left): not a frozen or suspended one.
    const phase = app?.events.filter((e) => e.name === 'phase').at(-1)?.phase ?? 'active';
    if (!app?.alive || app.stopped || (phase !== 'active' && phase !== 'background')) {
      this.h.info('orchestrator', 'app-send.skipped', { why: !app?.alive ? 'not running' : app.stopped ? 'frozen' : phase });
      return;
    }
    for (let i = 0; i < count; i++) app.send({ type: 'send', queueId: q.queueId, text: `app ${randomBytes(4).toString('hex')}` });
    this.h.ok('orchestrator', 'app-send', { queueId: q.queueId, count });
  }

  private async window(kind: string, budget: number, run: (budgetMs: number) => Promise<WindowOutcome>): Promise<void> {
    const dev = this.w.device;
    const before = dev.app;
    // Woken for the window (not running, frozen, suspended or on its way out): iOS ends it with the window.
    const woken = !before?.alive || before.stopped || dev.appState === 'expiring' || dev.appState === 'suspend' || before.events.filter((e) => e.name === 'phase').at(-1)?.phase === 'suspended';
    // Running for the window now: no longer on its way out under an earlier expiry (whose freeze
    // would stop the window before it starts); the window's end decides the next freeze.
    if (dev.appState === 'expiring' || dev.appState === 'suspend') {
      this.timers.clearApp();
      dev.appState = 'background';
    }
    this.h.ok('orchestrator', 'bg-window', { kind, budgetMs: budget });
    // iOS's budget runs from the moment the app has the task — after a relaunch into the background
    // has finished launching, not from the request (a launch can take longer than a scaled budget:
    // explore seed 1 real runs froze the app before its `ready`). So the timer starts at its `bg-window` start.
    let over: ReturnType<typeof setTimeout> | null = null;
    let done = false;
    void dev
      .waitEvent('app', 'bg-window', (x) => x.state === 'start', { from: dev.events.length, timeoutMs: budget + 40_000 })
      .then(() => {
        if (done) return;
        over = setTimeout(() => {
          // An app that was already running in the background keeps its own background time instead.
          if (woken && dev.appState !== 'active' && dev.app?.alive && !dev.app.stopped) this.freeze('app', 'window-over');
        }, Math.max(budget, MIN_WINDOW_FREEZE_MS));
      })
      .catch(() => {});
    const outcome = await run(budget);
    done = true;
    if (over !== null) clearTimeout(over);
    const app = dev.app;
    this.h.info('orchestrator', 'bg-window.outcome', { kind, outcome });
    // Its window is over and it suspended: iOS suspends (freezes) it — unless the user opened it.
    const suspended = app?.events.filter((e) => e.name === 'suspended' || e.name === 'phase').at(-1);
    if (dev.appState !== 'active' && app?.alive && !app.stopped && suspended?.name === 'suspended') this.freeze('app', 'window-done');
  }
}
