/**
 * What the platform tells a session (docs/processes.md "Commands"). The Node
 * processes receive these over IPC from the device; the simulator and the
 * bridge call the sessions with them directly.
 */
export type LifecycleEvent = 'active' | 'background' | 'expiring' | 'suspend' | 'lock' | 'unlock';
export const LIFECYCLE_EVENTS: readonly LifecycleEvent[] = ['active', 'background', 'expiring', 'suspend', 'lock', 'unlock'];

export interface LifecycleMsg {
  type: 'lifecycle';
  event: LifecycleEvent;
  /** Only with `unlock`: the 32-byte master key, hex. */
  masterKey?: string;
  /** Only with `suspend`/`expiring`: drain deadline in ms (0 = at once). */
  deadlineMs?: number;
  /** Only with `active`: brought to the front by a tap on a notification of this thread (docs/notifications.md "Tap"). */
  thread?: string;
  /** Only with `background`: false = iOS granted no background task (the app suspends at once; docs/processes.md "Background time"). */
  bgTask?: boolean;
}

/** One notification as the push gateway delivers it (opaque to the device). */
export interface PushItem {
  [k: string]: unknown;
}
export interface PushMsg {
  type: 'push';
  /** Device-assigned push id, echoed in the NSE's events. */
  pushId: string;
  /** When the device received the push (host clock, ms). */
  receivedAt: number;
  items: PushItem[];
}

/** The app gets a background window (docs/processes.md "Background windows"). */
export type WindowKind = 'refresh' | 'silent-push';
export interface WindowMsg {
  type: 'window';
  kind: WindowKind;
  /** iOS's budget for the window (ms, already scaled by a simulator's timeFactor). */
  budgetMs: number;
  /** silent-push: the queue the push is about (informational; the window drains the whole outbox). */
  queueId?: string;
}
/** User settings changed at run time (the app's Settings screen). */
export interface SettingsMsg {
  type: 'settings';
  backgroundRefresh?: boolean;
}
