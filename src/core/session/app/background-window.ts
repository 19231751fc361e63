import { isNsekitError } from '../../errors.js';
import type { WindowKind, WindowMsg } from '../commands.js';
import type { SessionRuntime } from '../runtime.js';
import type { LowPowerPoller } from './low-power.js';
import type { Outbox } from './outbox.js';
import type { RefreshTask } from './refresh.js';

/** What the window needs from the app (src/core/session/app/app.ts). */
export interface WindowHost {
  readonly rt: SessionRuntime;
  readonly outbox: Outbox;
  readonly poller: LowPowerPoller;
  readonly refresh: RefreshTask;
  readonly mode: 'instant' | 'lowPower';
  /** The app is in front (its `active` applied, not left since). */
  inFront(): boolean;
  /** `active` commands received so far (one arriving during a window ends it early). */
  activeCount(): number;
}

/** Share of the budget after which no new work starts (iOS calls the expiration handler shortly before the end). */
export const WINDOW_STOP_SHARE = 0.8;
/** Share of the budget by which the window has suspended (store closed, lock released), a margin before iOS's end. */
export const WINDOW_SUSPENDED_SHARE = 0.9;

export interface WindowResult {
  kind: WindowKind;
  skipped?: string;
  expired: boolean;
  sent: number;
  polled: number;
  notified: number;
}

/**
 * A background window (docs/processes.md "Background windows"): a refresh task or a silent push
 * gives the app, out of the front, a bounded budget. The app activates its gates for it (the
 * store reopens, network classes open) but is not in front: it never GETs (the NSE may be
 * GETting the same queues), never SUBs and never asks the NSE to yield. Its work is push-only:
 * drain the outbox; in low-power mode, run the signed status poll once per queue and turn
 * `has_payload` into a generic local notification without downloading anything. It stops
 * starting work at WINDOW_STOP_SHARE of the budget (the expiration handler) and has suspended —
 * store closed, lock released, so a freeze finds nothing held (no 0xdead10cc) — by
 * WINDOW_SUSPENDED_SHARE. A SEND in flight at expiry either completes inside the drain or
 * stays `sending` and is resent later with its clientId (the relay dedupes): sent once.
 */
export class BackgroundWindows {
  /** A window is running (the app's phase may be `active` without being in front). */
  running = false;
  /** Windows granted, and of those skipped (for `status`). */
  granted = 0;
  skipped = 0;

  constructor(private readonly a: WindowHost) {}

  /** Run one window to its end (the caller serializes it with the lifecycle commands). */
  async run(m: WindowMsg): Promise<WindowResult> {
    const { rt } = this.a;
    const budget = Math.max(1, Math.floor(m.budgetMs));
    const t0 = rt.host.clock.now();
    const res: WindowResult = { kind: m.kind, expired: false, sent: 0, polled: 0, notified: 0 };
    this.granted++;
    if (m.kind === 'refresh') this.a.refresh.consumed();
    rt.log('info', 'push', `wake reason=${m.kind === 'refresh' ? 'refresh' : 'silent'}`, { budgetMs: budget, phase: rt.phase.phase });
    await rt.host.failpoints.hit('bg.window.start', { kind: m.kind, budgetMs: budget });
    rt.emit('bg-window', { state: 'start', kind: m.kind, budgetMs: budget, ...(m.queueId ? { queueId: m.queueId } : {}) });
    const reason = this.skipReason(m.kind);
    if (reason) return this.skip(res, reason);

    const fronts = this.a.activeCount();
    let expired = false;
    let onExpire!: () => void;
    const expiredP = new Promise<void>((r) => (onExpire = r));
    const timer = rt.host.clock.setTimer(Math.max(1, Math.floor(budget * WINDOW_STOP_SHARE)), () => {
      expired = res.expired = true;
      rt.log('warn', 'push', 'background window expiring: no new work, suspending', { kind: m.kind });
      rt.emit('bg-window', { state: 'expired', kind: m.kind });
      void Promise.resolve(rt.host.failpoints.hit('bg.window.expire', { kind: m.kind })).finally(onExpire);
    });
    const stop = () => expired || this.a.activeCount() !== fronts;
    this.running = true;
    try {
      // Not the wake sequence: no yield request, no inbox import, no GET, no SUB.
      await rt.phase.activate();
      await rt.openStore();
      const work = this.work(res, stop).catch((e: unknown) => {
        res.skipped = isNsekitError(e) && /^PROTO_(CLOSED|TIMEOUT|AUTH)$/.test(e.code) ? 'relay_unavailable' : 'error';
        rt.log('warn', 'push', 'background window work failed', { kind: m.kind, error: String(e) });
      });
      // The expiration handler does not wait for the work: a SEND in flight finishes inside the
      // suspension's drain (or is forced past by its deadline and resent later, deduped).
      await Promise.race([work, expiredP]);
    } finally {
      rt.host.clock.clearTimer(timer);
    }
    if (this.a.activeCount() !== fronts) {
      // The user opened the app: the queued `active` runs the wake sequence from here.
      this.running = false;
      rt.log('info', 'push', 'background window ends: the app comes to the front', { kind: m.kind });
      rt.emit('bg-window', { state: 'end', kind: m.kind, expired: res.expired, sent: res.sent, polled: res.polled, notified: res.notified, front: true });
      return res;
    }
    await rt.host.failpoints.hit('bg.window.end', { kind: m.kind, expired: res.expired });
    const left = Math.max(0, Math.floor(budget * WINDOW_SUSPENDED_SHARE) - (rt.host.clock.now() - t0));
    await this.suspend(left);
    this.running = false;
    if (m.kind === 'refresh') this.a.refresh.schedule(); // the next one (replaces, never a second request)
    rt.log('info', 'push', 'background window done', { ...res });
    rt.emit('bg-window', { state: 'end', kind: m.kind, expired: res.expired, sent: res.sent, polled: res.polled, notified: res.notified, ...(res.skipped ? { reason: res.skipped } : {}) });
    return res;
  }

  /** Why a window does nothing (null: it works). Checked again inside iOS's callback, as the seed's design does. */
  private skipReason(kind: WindowKind): string | null {
    const { rt } = this.a;
    if (this.a.inFront()) return 'in_front';
    if (kind === 'refresh' && !this.a.refresh.enabled) return 'disabled';
    // Keys unavailable: the store cannot open and the outbox cannot be read.
    if (!rt.unlocked) return 'device_locked';
    return null;
  }

  private async skip(res: WindowResult, reason: string): Promise<WindowResult> {
    const { rt } = this.a;
    this.skipped++;
    res.skipped = reason;
    rt.log('info', 'push', `background window skipped reason=${reason}`, { kind: res.kind });
    rt.emit('bg-window', { state: 'skip', kind: res.kind, reason });
    // In front: nothing to end. Otherwise it stays (or becomes again) suspended: report it, so iOS
    // may freeze it (a suspended app thawed for the window holds nothing).
    if (reason !== 'in_front') {
      if (rt.phase.phase === 'suspended') rt.reportSuspended();
      if (res.kind === 'refresh') this.a.refresh.schedule();
    }
    return res;
  }

  /** Push-only work: the outbox, then (low-power mode) one status poll per queue. */
  private async work(res: WindowResult, stop: () => boolean): Promise<void> {
    const { rt, outbox, poller } = this.a;
    try {
      await rt.phase.run('sendNetwork', () => rt.ensureConnected());
    } catch (e) {
      res.skipped = 'relay_unavailable';
      rt.log('info', 'push', 'background window: relay unavailable, nothing sent', { code: isNsekitError(e) ? e.code : String(e) });
      return;
    }
    if (stop()) return;
    res.sent = await outbox.drain(stop);
    if (this.a.mode !== 'lowPower') return;
    for (const queueId of rt.queueCfg.keys()) {
      if (stop()) return;
      let has: boolean;
      try {
        has = await rt.phase.run('receiveNetwork', () => poller.hasPayload(queueId));
      } catch (e) {
        // Refused (auth, stale clock…) or unreachable: skip the rest, the next window polls again.
        rt.log('warn', 'sync', 'status poll failed in the background window', { queueId, code: isNsekitError(e) ? e.code : String(e) });
        return;
      }
      res.polled++;
      // A banner for this conversation is up already (an unread message the NSE or the app showed):
      // a generic one beside it is the "double banner" (docs/processes.md "Background windows").
      const covered = has && (await this.unreadShown(queueId));
      rt.emit('sync', { stage: 'poll', queueId, hasPayload: has, window: true, ...(covered ? { covered: true } : {}) });
      if (!has || covered) continue;
      res.notified++;
      rt.log('info', 'push', 'local notification: the relay holds a message (nothing downloaded)', { queueId });
      rt.emit('local-notification', { queueId, reason: 'has_payload', title: 'nsekit', body: 'You may have new messages' });
    }
  }

  /** The conversation has unread messages in the shared store (their notifications were shown); false when unknown. */
  private async unreadShown(queueId: string): Promise<boolean> {
    const s = this.a.rt.store;
    if (!s.unreadInThread) return false;
    try {
      return (await s.unreadInThread(queueId)) > 0;
    } catch {
      return false; // unreadable now: post the banner (a second one beats none)
    }
  }

  /** Leave the window as a background task ends: gates closed in order, store closed, lock released, `suspended`. */
  private async suspend(deadlineMs: number): Promise<void> {
    const { rt } = this.a;
    if (rt.phase.phase === 'active') rt.phase.background();
    if (rt.phase.phase !== 'suspended') await rt.phase.suspend(deadlineMs);
    if (rt.phase.phase === 'suspended') rt.reportSuspended();
  }
}
