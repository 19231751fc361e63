import type { HistoryRecorder } from '../history/index.js';
import type { Budgets } from '../scenario/index.js';
import { IosRules } from './rules.js';
import type { SimWorld } from './world.js';

type Role = 'app' | 'nse';

/**
 * The iOS clocks (docs/processes.md "The device"), in run ms: the app's background-task budget →
 * `expiring` → freeze after the grace; the NSE's budget (from the push that
 * reached it, one session until it is frozen) → "time will expire" → freeze
 * after the grace; the NSE memory monitor (jetsam). Freezing goes through
 * `freeze`, which applies the 0xdead10cc check.
 */
export class IosTimers {
  private appTimer: NodeJS.Timeout | null = null;
  private nseTimer: NodeJS.Timeout | null = null;
  private nseFreezeTimer: NodeJS.Timeout | null = null;
  private readonly rssTimer: NodeJS.Timeout;
  private readonly rssBase = new Map<number, number>();
  private stopped = false;

  constructor(
    private readonly w: SimWorld,
    private readonly h: HistoryRecorder,
    private readonly rules: IosRules,
    private readonly budgets: Budgets & { nseExpiryCallback: boolean },
    private readonly freeze: (role: Role, why: string) => void,
    rssPollMs: number,
  ) {
    this.rssTimer = setInterval(() => this.checkRss(), rssPollMs);
  }

  /** RSS at launch: the jetsam budget applies to growth over it. */
  baseline(pid: number): void {
    const rss = IosRules.rssMb(pid);
    if (rss !== null) this.rssBase.set(pid, rss);
  }

  clearApp(): void {
    if (this.appTimer) clearTimeout(this.appTimer);
    this.appTimer = null;
  }

  clearNse(): void {
    for (const t of [this.nseTimer, this.nseFreezeTimer]) if (t) clearTimeout(t);
    this.nseTimer = this.nseFreezeTimer = null;
  }

  /** The app went to background: its background-task budget starts. */
  startBackgroundTask(): void {
    this.clearApp();
    if (this.stopped) return;
    this.appTimer = setTimeout(() => void this.expireApp('budget'), this.budgets.bgTaskMs);
  }

  /** The app went to background without a background task: iOS freezes it after `noTaskMs`, no warning. */
  startNoTask(): void {
    this.clearApp();
    if (this.stopped) return;
    this.appTimer = setTimeout(() => {
      this.appTimer = null;
      if (this.w.device.appState === 'background') this.freeze('app', 'no-task-over');
    }, this.budgets.noTaskMs);
  }

  /** A push reached the NSE: its budget runs from here (one session until it is frozen). */
  startNseBudget(): void {
    if (this.nseTimer || this.nseFreezeTimer || this.stopped) return;
    this.nseTimer = setTimeout(() => {
      this.nseTimer = null;
      this.expireNse('budget');
    }, this.budgets.nseMs);
  }

  /** Time will expire: tell the NSE (unless the callback never comes), freeze it after the grace. */
  expireNse(why: string): void {
    const p = this.w.device.nse;
    if (!p?.alive || p.stopped) return;
    if (this.budgets.nseExpiryCallback) {
      p.send({ type: 'lifecycle', event: 'expiring', deadlineMs: Math.floor(this.budgets.nseGraceMs / 2) });
      this.h.ok('orchestrator', 'expire', { proc: 'nse', pid: p.pid, why });
    } else {
      this.h.info('orchestrator', 'expire.skipped', { proc: 'nse', pid: p.pid, why: 'expiry callback never comes' });
    }
    if (this.nseFreezeTimer) clearTimeout(this.nseFreezeTimer);
    this.nseFreezeTimer = setTimeout(() => {
      this.nseFreezeTimer = null;
      this.freeze('nse', 'budget-over');
    }, this.budgets.nseGraceMs);
  }

  /** Background-task expiration: `expiring`, then freeze after the grace (unless it suspended first). */
  async expireApp(why: string): Promise<void> {
    this.clearApp();
    const p = this.w.device.app;
    if (!p?.alive) return;
    this.h.ok('orchestrator', 'expire', { proc: 'app', pid: p.pid, why });
    await this.w.device.appLifecycle('expiring', { deadlineMs: Math.floor(this.budgets.nseGraceMs / 2) });
    if (this.stopped) return;
    this.appTimer = setTimeout(() => {
      this.appTimer = null;
      if (this.w.device.appState === 'expiring') this.freeze('app', 'expiration-grace-over');
    }, this.budgets.nseGraceMs);
  }

  /** Jetsam: NSE resident memory above its launch baseline by more than the budget (sampled, and at every NSE failpoint hit). */
  checkRss(): void {
    const p = this.w.device.nse;
    if (!p?.alive || p.stopped) return;
    const rss = IosRules.rssMb(p.pid);
    const base = this.rssBase.get(p.pid);
    if (rss === null || base === undefined) return;
    if (rss - base > this.budgets.nseMemoryMb) {
      this.h.info('orchestrator', 'rss', { proc: 'nse', pid: p.pid, rssMb: Math.round(rss), baseMb: Math.round(base) });
      this.clearNse();
      this.rules.kill('nse', p, 'memory budget', 'jetsam');
    }
  }

  stop(): void {
    this.stopped = true;
    this.clearApp();
    this.clearNse();
    clearInterval(this.rssTimer);
  }
}
