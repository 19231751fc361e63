/**
 * What the simulated phone's notification center holds (docs/notifications.md "The host"): the
 * delivered notifications, grouped by thread, and the app icon's badge — applied from the
 * sessions' events exactly as an iOS host applies them:
 *
 * - `notification`: delivered (`threadId` is iOS's `threadIdentifier`); a `badge` field sets the badge.
 * - `thread-read`: every delivered notification of `threadId` is removed
 *   (`removeDeliveredNotifications` for that thread's identifiers) — with `remote: true` (read on
 *   another device) only those of its `msgIds`; its `badge` sets the badge.
 * - `badge`: the app sets the badge (`count`).
 */
export interface Delivered {
  msgId: string | null;
  queueId: string;
  threadId: string;
  /** The process that showed it. */
  role: string;
  bestAttempt: boolean;
}

export class NotificationCenter {
  readonly delivered: Delivered[] = [];
  /** The icon's badge; null until a session set one. */
  badge: number | null = null;

  /** Apply one session event (other events are ignored). */
  apply(role: string, name: string, f: Record<string, unknown>): void {
    if (typeof f.badge === 'number' && (name === 'notification' || name === 'thread-read')) this.badge = f.badge;
    if (name === 'badge' && typeof f.count === 'number') this.badge = f.count;
    if (name === 'notification') {
      const queueId = String(f.queueId ?? '');
      this.delivered.push({ msgId: typeof f.msgId === 'string' ? f.msgId : null, queueId, threadId: typeof f.threadId === 'string' ? f.threadId : queueId, role, bestAttempt: f.bestAttempt === true });
    }
    // Read on another device: only the notifications of the messages read there (a later one stays).
    if (name === 'thread-read' && f.remote === true && Array.isArray(f.msgIds)) this.removeMessages(f.msgIds.map(String));
    else if (name === 'thread-read' && typeof f.threadId === 'string') this.removeThread(f.threadId);
  }

  /** Remove the delivered notifications of these messages; returns how many went. */
  removeMessages(msgIds: readonly string[]): number {
    const ids = new Set(msgIds);
    let n = 0;
    for (let i = this.delivered.length - 1; i >= 0; i--) {
      const m = this.delivered[i]!.msgId;
      if (m === null || !ids.has(m)) continue;
      this.delivered.splice(i, 1);
      n++;
    }
    return n;
  }

  /** Remove a thread's delivered notifications; returns how many went. */
  removeThread(threadId: string): number {
    let n = 0;
    for (let i = this.delivered.length - 1; i >= 0; i--) {
      if (this.delivered[i]!.threadId !== threadId) continue;
      this.delivered.splice(i, 1);
      n++;
    }
    return n;
  }

  /** Delivered notifications of one thread. */
  inThread(threadId: string): Delivered[] {
    return this.delivered.filter((d) => d.threadId === threadId);
  }
}
