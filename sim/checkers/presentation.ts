import { isEvent } from './bounded-work.js';
import { happened } from './common.js';
import { verdict, type Checker, type Op, type Violation } from './types.js';

/**
 * Notifications as iOS shows them (docs/invariants.md 11 and 12, docs/notifications.md).
 *
 * `notify` (ok) and `notify.placeholder` (info) are the notifications the app and the NSE showed;
 * `thread-read` (fast mode) / `ev.thread-read` (real observer) is the app opening a conversation
 * after a tap: `value.msgIds` became read, the thread's delivered notifications are removed.
 */
const isShown = (op: Op): boolean => (op.proc === 'app' || op.proc === 'nse') && ((op.f === 'notify' && op.type === 'ok') || (op.f === 'notify.placeholder' && op.type === 'info'));
const val = (op: Op): Record<string, unknown> => (op.value ?? {}) as Record<string, unknown>;

/**
 * Invariant 11 — presentation (safety).
 * (a) Every notification carries its thread: `threadId` equal to its `queueId` (iOS groups by it,
 *     a tap routes by it). A history in which no notification has a `threadId` field at all was
 *     recorded before thread ids existed: noted, not judged.
 * (b) A read thread keeps no notification of a read message: once a `thread-read` has listed
 *     msgId as read (and the host removed the thread's delivered notifications), no notification
 *     for msgId may be shown after it — it would stay on the lock screen for a message the user
 *     has already read.
 */
export const checkPresentation: Checker = (history) => {
  const violations: Violation[] = [];
  const notes: string[] = [];
  const shown = history.filter(isShown);
  if (shown.length > 0 && !shown.some((op) => 'threadId' in val(op))) {
    notes.push('no notification records a threadId (a history from before thread ids): (a) not checked');
  } else {
    for (const op of shown) {
      const v = val(op);
      if (v.threadId !== v.queueId) violations.push({ detail: `notification for ${String(v.msgId)} has thread ${JSON.stringify(v.threadId ?? null)}, not its conversation ${String(v.queueId)}`, ops: [op.index], proc: op.proc, ...(typeof v.msgId === 'string' ? { msgId: v.msgId } : {}) });
    }
  }
  const readAt = new Map<string, number>();
  for (const op of history) {
    if (isEvent(op, 'thread-read') && happened(op) && op.proc === 'app') {
      const ids = val(op).msgIds;
      if (Array.isArray(ids)) for (const id of ids) if (typeof id === 'string' && !readAt.has(id)) readAt.set(id, op.index);
      continue;
    }
    if (!isShown(op)) continue;
    const id = val(op).msgId;
    const at = typeof id === 'string' ? readAt.get(id) : undefined;
    if (at !== undefined) violations.push({ detail: `message ${id} was read (thread opened at op ${at}) and then shown: its notification stays delivered`, ops: [at, op.index], msgId: id as string, proc: op.proc });
  }
  return verdict('presentation', violations, notes);
};

/** The last badge a host was given, from a `notification`'s `badge`, a `badge` event's `count` or a `thread-read`'s `badge`. */
function lastBadge(history: readonly Op[]): { value: number; op: number } | null {
  for (let i = history.length - 1; i >= 0; i--) {
    const op = history[i]!;
    if (op.proc !== 'app' && op.proc !== 'nse') continue;
    const v = val(op);
    if (op.f === 'notify' && op.type === 'ok' && typeof v.badge === 'number') return { value: v.badge, op: op.index };
    if (isEvent(op, 'badge') && typeof v.count === 'number') return { value: v.count, op: op.index };
    if (isEvent(op, 'thread-read') && typeof v.badge === 'number') return { value: v.badge, op: op.index };
  }
  return null;
}

/**
 * Invariant 12 — the badge at quiescence (liveness). After the final heal (app in front, its wake
 * done, the convergence time passed) the last badge the host was given equals the unread count of
 * the final store (`store.snapshot`'s `unread`: stored messages with the notification flag whose
 * conversation was not opened since). No badge ever set counts as 0. Not judged when the snapshot
 * has no `unread` (a history from before the read state), nor when the app completed no `wake`
 * after the final heal (`heal` with `final: true`): that run is not quiescent, `liveness` judges it.
 */
export const checkBadge: Checker = (history) => {
  let snap: Op | undefined;
  for (let i = history.length - 1; i >= 0 && !snap; i--) if (history[i]!.f === 'store.snapshot' && history[i]!.type === 'ok') snap = history[i];
  const unread = snap ? val(snap).unread : undefined;
  if (!snap || typeof unread !== 'number') return verdict('badge', [], ['no final store snapshot with an unread count: not checked'], false, 'liveness');
  // Quiescence needs the app's wake after the final heal; a run without one fails `liveness` (or
  // recorded no final heal), and a badge judged then would only repeat that verdict.
  const heal = history.findIndex((op) => op.proc === 'orchestrator' && op.f === 'heal' && op.type === 'ok' && val(op).final === true);
  if (heal >= 0 && !history.some((op, i) => i > heal && op.proc === 'app' && isEvent(op, 'wake') && happened(op))) {
    return verdict('badge', [], ['the app completed no wake after the final heal (not quiescent): not judged'], false, 'liveness');
  }
  const last = lastBadge(history);
  const shownValue = last?.value ?? 0;
  const violations: Violation[] =
    shownValue === unread ? [] : [{ detail: `the badge shows ${shownValue}${last ? '' : ' (never set)'} but the store has ${unread} unread at quiescence`, ops: last ? [last.op, snap.index] : [snap.index] }];
  return verdict('badge', violations, [], false, 'liveness');
};
