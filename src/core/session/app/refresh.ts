import type { SessionRuntime } from '../runtime.js';

/** The refresh task's identifier (iOS: BGTaskSchedulerPermittedIdentifiers; one request per identifier). */
export const REFRESH_TASK_ID = 'chat.nsekit.refresh';

/**
 * The background refresh task's request (iOS BGAppRefreshTask, Android WorkManager in the seed's
 * design): off unless the user turned the setting on (`backgroundRefresh`, or a `settings`
 * command at run time). While on, the app submits its one request each time it leaves the front
 * and again when a window it got ends. Submitting with the same identifier replaces the pending
 * request (as BGTaskScheduler.submit and WorkManager's ExistingPeriodicWorkPolicy.update do), so
 * there is never a second registration: the `bg-refresh` event says `replaced: true` then, and a
 * host that keeps one request per `id` can count them.
 */
export class RefreshTask {
  private on: boolean;
  private pending = false;

  constructor(private readonly rt: SessionRuntime) {
    this.on = rt.cfg.backgroundRefresh === true;
  }

  get enabled(): boolean {
    return this.on;
  }

  /** Whether a request is pending with the OS (scheduled and not yet run or cancelled). */
  get scheduled(): boolean {
    return this.pending;
  }

  /** The user's setting changed: on submits the request now, off cancels it. */
  setEnabled(on: boolean): void {
    if (on === this.on) return;
    this.on = on;
    this.rt.log('info', 'push', `background refresh ${on ? 'enabled' : 'disabled'} by the user`);
    if (on) this.schedule();
    else this.cancel();
  }

  /** Submit the request (replacing a pending one); nothing while the setting is off. */
  schedule(): void {
    if (!this.on) return;
    const replaced = this.pending;
    this.pending = true;
    this.rt.log('info', 'push', replaced ? 'refresh task rescheduled (replaces the pending request)' : 'refresh task scheduled', { id: REFRESH_TASK_ID });
    this.rt.emit('bg-refresh', { state: 'scheduled', id: REFRESH_TASK_ID, replaced });
  }

  /** Same as schedule(); named for the call sites that only submit while the user wants it. */
  scheduleIfEnabled(): void {
    this.schedule();
  }

  /** The OS ran the request (a window was granted for it): it is no longer pending. */
  consumed(): void {
    this.pending = false;
  }

  private cancel(): void {
    const was = this.pending;
    this.pending = false;
    this.rt.log('info', 'push', 'refresh task cancelled', { id: REFRESH_TASK_ID, was });
    this.rt.emit('bg-refresh', { state: 'cancelled', id: REFRESH_TASK_ID });
  }
}
