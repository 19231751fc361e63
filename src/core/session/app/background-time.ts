import type { TimerHandle } from '../../host.js';
import type { LifecycleMsg } from '../commands.js';
import type { SessionRuntime } from '../runtime.js';

/** docs/processes.md "Background time": the app's own limit on its time in `background` (the 001 design: "probably 20 seconds"); hosts pass it as `appSuspendAfterMs`. */
export const DEFAULT_APP_SUSPEND_AFTER_MS = 20_000;

/**
 * How long the app stays in `background` before it suspends (store closed, lock released) on
 * its own. With a background task (the usual case) iOS warns before the task's end (~30 s) and
 * the app suspends then — or after `appSuspendAfterMs` (the Node device passes 20 s), whichever
 * comes first, so a warning that comes late or never does not leave the store open. A host that
 * passes none (the simulator, whose budgets model the task's end; the bridge so far) arms no timer. Without one (`background`
 * with `bgTask: false`: `beginBackgroundTask` was refused) iOS suspends the app a few seconds
 * after it left the front, without a warning: the app suspends at once.
 */
export class BackgroundTime {
  private timer: TimerHandle | null = null;

  constructor(
    private readonly rt: SessionRuntime,
    /** Apply a lifecycle command in order (the app's onLifecycle). */
    private readonly apply: (m: LifecycleMsg) => Promise<void>,
  ) {}

  /** The app left the front: start its limit (a background task) or suspend now (none). */
  left(m: LifecycleMsg): void {
    this.clear();
    const deadlineMs = this.rt.cfg.appExpiryDeadlineMs ?? 1_000;
    if (m.bgTask === false) {
      this.rt.log('info', 'phase', 'no background task granted: suspending now', { deadlineMs });
      void this.apply({ type: 'lifecycle', event: 'suspend', deadlineMs });
      return;
    }
    const after = this.rt.cfg.appSuspendAfterMs;
    if (after === undefined) return;
    this.timer = this.rt.host.clock.setTimer(after, () => {
      this.timer = null;
      if (this.rt.phase.phase !== 'background') return;
      this.rt.log('info', 'phase', 'background time limit reached: suspending', { afterMs: after });
      void this.apply({ type: 'lifecycle', event: 'suspend', deadlineMs });
    });
  }

  /** Back in front, or already suspending: the limit no longer applies. */
  clear(): void {
    if (this.timer !== null) this.rt.host.clock.clearTimer(this.timer);
    this.timer = null;
  }
}
