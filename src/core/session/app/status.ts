import type { SessionRuntime } from '../runtime.js';
import type { BackgroundWindows } from './background-window.js';
import type { Realtime } from './realtime.js';
import type { RefreshTask } from './refresh.js';

/** The app's state for a host's `query` (docs/processes.md): phase, mode, store and outbox counts, background settings. */
export async function appStatus(
  rt: SessionRuntime,
  app: { readonly mode: string; readonly refresh: RefreshTask; readonly windows: BackgroundWindows; readonly realtime: Realtime },
): Promise<Record<string, unknown>> {
  const readable = rt.store.isOpen && rt.unlocked;
  const count = readable ? await rt.store.countMessages() : null;
  const outbox = readable ? (await rt.store.outboxPending()).filter((i) => i.state !== 'failed').length : null;
  const outboxFailed = readable && rt.store.outboxList ? (await rt.store.outboxList('failed')).length : null;
  const quarantined = rt.store.isOpen && rt.store.quarantineList ? (await rt.store.quarantineList()).length : null;
  return {
    role: 'app',
    phase: rt.phase.phase,
    mode: app.mode,
    backgroundRefresh: app.refresh.enabled,
    refreshScheduled: app.refresh.scheduled,
    windows: app.windows.granted,
    rt: app.realtime.state,
    stored: count,
    outbox,
    outboxFailed,
    quarantined,
    unlocked: rt.unlocked,
  };
}
