/**
 * How a notification is presented on iOS (docs/notifications.md): the rules every host applies
 * to what the sessions show. Pure and portable — no store, no clock; the session glue that reads
 * the unread count is src/core/session/notify.ts.
 *
 * - Thread: every notification carries `threadId` = its conversation, which is its queue (one
 *   queue per conversation in nsekit), so iOS groups them per conversation and a tap routes to it.
 * - Badge: the number of unread messages in the shared store — stored messages that carry the
 *   notification flag and whose conversation has not been opened since they were stored. Set on
 *   the content that carries it; absent when it cannot be read (device locked, a store without
 *   the read state), which on iOS leaves the icon's badge unchanged.
 * - Tap: opens the app routed to the thread; the app marks the thread read, removes the thread's
 *   delivered notifications and sets the badge (`thread-read` event).
 */
import type { MessageFlags, NotificationContent } from '../host.js';

/** The thread a queue's notifications are grouped under (the conversation). */
export function threadIdOf(queueId: string): string {
  return queueId;
}

/** The content with its thread set (and nothing else changed). */
export function withThread<T extends NotificationContent>(c: T): T & { threadId: string } {
  return { ...c, threadId: threadIdOf(c.queueId) };
}

/** Does a stored message with these flags count as unread until its thread is read? */
export function countsAsUnread(flags: MessageFlags): boolean {
  return flags.notification;
}

/** A badge value as iOS takes it: a non-negative integer, or absent (unchanged). */
export function badgeValue(n: number | null | undefined): number | undefined {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : undefined;
}
