import type { Log } from '../core/host.js';
import type { WindowKind } from '../core/session/index.js';
import type { Device } from './device.js';
import type { ManagedProc } from './proc.js';

/** iOS's budget for a refresh task or a silent push's background launch (~30 s). */
export const WINDOW_BUDGET_MS = 30_000;

/** A gateway payload with `aps.content-available`: a silent (background) push, for the app, not the NSE. */
export function isSilentPush(body: unknown): boolean {
  const aps = (body as { aps?: Record<string, unknown> } | null)?.aps;
  return typeof aps === 'object' && aps !== null && aps['content-available'] === 1 && aps['mutable-content'] === undefined;
}

export type WindowOutcome = 'done' | 'skipped' | 'force-quit' | 'timeout';

/**
 * The device's side of the app's background windows (docs/processes.md "Background windows"):
 * the user's refresh setting (kept like UserDefaults and handed to every app launch), the OS's
 * refresh requests (one per identifier: a resubmission replaces it), force-quit (the user swiped
 * the app away: no silent push or refresh reaches it until it is opened again; an iOS or jetsam
 * kill is not one), and granting a window: the app is launched into the background if it is not
 * running, thawed if frozen, sent `window`, and the outcome is its `bg-window` end or skip. iOS's
 * end of the window (the freeze) is the orchestrator's, as for the background task.
 */
export class DeviceBackground {
  forceQuit = false;
  /** The OS's pending refresh requests, by identifier: how many submissions each has seen. */
  readonly refreshRequests = new Map<string, number>();
  /** Silent pushes received, and what became of them. */
  readonly silent: { at: number; outcome: WindowOutcome | 'not-running' }[] = [];

  constructor(
    private readonly dev: Device,
    private readonly log?: Log,
  ) {
    dev.on('event', (role: string, e: { name: string; state?: unknown; id?: unknown }) => {
      if (role !== 'app' || e.name !== 'bg-refresh' || typeof e.id !== 'string') return;
      if (e.state === 'scheduled') this.refreshRequests.set(e.id, (this.refreshRequests.get(e.id) ?? 0) + 1);
      else this.refreshRequests.delete(e.id);
    });
  }

  /** The Settings screen's toggle: stored for later launches and told to the running app. */
  settings(backgroundRefresh: boolean): void {
    this.dev.appSettings.backgroundRefresh = backgroundRefresh;
    const app = this.dev.app;
    if (app?.alive) app.send({ type: 'settings', backgroundRefresh });
  }

  /** The user swipes the app away (SIGKILL; remembered until the user opens it again). */
  async forceQuitApp(): Promise<void> {
    this.forceQuit = true;
    const app = this.dev.app;
    this.log?.log('info', 'phase', 'app force-quit by the user', { pid: app?.pid });
    if (!app?.alive) return;
    if (app.stopped) app.signal('SIGCONT');
    app.signal('SIGKILL');
    await app.whenExited();
  }

  /** The user opened the app: it may get silent pushes again. */
  opened(): void {
    this.forceQuit = false;
  }

  /**
   * Grant the app a window of `budgetMs`; resolves with its outcome (its `bg-window` end/skip),
   * bounded by the budget plus `slackMs` ('timeout' then: the orchestrator freezes it anyway).
   */
  async grant(kind: WindowKind, budgetMs = WINDOW_BUDGET_MS, opts: { queueId?: string; slackMs?: number } = {}): Promise<WindowOutcome> {
    const dev = this.dev;
    if (this.forceQuit) {
      this.log?.log('info', 'push', 'window not granted: the app was force-quit', { kind });
      return 'force-quit';
    }
    let app: ManagedProc | null = dev.app;
    if (!app?.alive) {
      this.log?.log('info', 'phase', 'app launched into the background', { kind });
      app = await dev.launchApp({ background: true });
    }
    if (app.stopped) dev.thaw(app);
    const from = app.events.length;
    app.send({ type: 'window', kind, budgetMs, ...(opts.queueId ? { queueId: opts.queueId } : {}) });
    try {
      const e = await app.waitFor((x) => x.name === 'bg-window' && (x.state === 'end' || x.state === 'skip'), {
        from,
        timeoutMs: budgetMs + (opts.slackMs ?? 2_000),
        what: `the app's ${kind} window to end`,
      });
      return e.state === 'skip' ? 'skipped' : 'done';
    } catch {
      return 'timeout';
    }
  }

  /** A `content-available` push reached the device: a window for the app (never the NSE). */
  async deliverSilent(body: unknown, budgetMs = WINDOW_BUDGET_MS): Promise<WindowOutcome> {
    const b = (body ?? {}) as { queueId?: unknown; budgetMs?: unknown };
    const queueId = b.queueId;
    // A simulator scales iOS's budget (timeFactor) and says so in the payload.
    if (typeof b.budgetMs === 'number' && b.budgetMs > 0) budgetMs = b.budgetMs;
    const outcome = await this.grant('silent-push', budgetMs, typeof queueId === 'string' ? { queueId } : {});
    this.silent.push({ at: Date.now(), outcome });
    return outcome;
  }
}
