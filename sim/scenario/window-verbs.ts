/** The background-window verbs (docs/scenarios.md "Background windows"). */
export type WindowVerb = 'settings' | 'refresh' | 'silent-push' | 'force-quit' | 'app-send';

/** What each engine does for them (sim/fast/windows.ts, sim/orchestrator/windows.ts). */
export interface WindowVerbTarget {
  settings(backgroundRefresh: boolean): Promise<void> | void;
  refresh(budgetMs?: number): Promise<void>;
  silentPush(queue: number, throttled: boolean, budgetMs?: number): Promise<void>;
  forceQuitApp(): Promise<void> | void;
  appSend(queue: number, count: number): void;
}

/** A step's arguments read once, the same way in both engines. */
export async function runWindowVerb(t: WindowVerbTarget, v: WindowVerb, args: Record<string, number | boolean | undefined>): Promise<void> {
  const budgetMs = args.budgetMs === undefined ? undefined : Number(args.budgetMs);
  if (v === 'settings') return t.settings(args.backgroundRefresh !== false);
  if (v === 'refresh') return t.refresh(budgetMs);
  if (v === 'silent-push') return t.silentPush(Number(args.queue ?? 0), args.throttled === true, budgetMs);
  if (v === 'force-quit') return t.forceQuitApp();
  return t.appSend(Number(args.queue ?? 0), Number(args.count ?? 1));
}
