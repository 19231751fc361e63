/**
 * The sessions' side of presenting notifications (docs/notifications.md): every notification a
 * process shows goes out with its thread and the badge read from the shared store, and the app's
 * tap opens a thread (marks it read, removes its delivered notifications, sets the badge).
 *
 * Per process, everything that sets the badge runs on one chain (read, then emit at once), so the
 * values a process emits are in the order it read them: the last badge it set is the count read
 * after the last change it made or saw.
 */
import { isNsekitError } from '../errors.js';
import type { NotificationContent } from '../host.js';
import { badgeValue, threadIdOf, withThread } from '../notification/index.js';
import type { SessionRuntime } from './runtime.js';

/** A notification as handed to the host: its thread always, its badge when the store could be read. */
export type Presented = NotificationContent & { threadId: string };

/** How many msgIds this process remembers having marked read (oldest forgotten first). */
const READ_HERE_MAX = 4096;

export class Presenter {
  private chain: Promise<unknown> = Promise.resolve();
  /**
   * Messages this process marked read (its taps): a show queued behind the tap may find the store
   * unreadable by then (the device locked meanwhile), and must still not put up a read message.
   */
  private readonly readHere = new Set<string>();

  constructor(private readonly rt: SessionRuntime) {}

  /** The store can answer a read now: open, key in memory, database class not blocked (a read then would wait). */
  private readable(): boolean {
    const { rt } = this;
    return rt.unlocked && rt.store.isOpen && rt.store.unlocked && !rt.phase.isBlocked('database');
  }

  private serial(fn: () => Promise<void>): Promise<void> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => {});
    return p;
  }

  /** Unread count for the badge, or undefined (unreadable now: the host leaves the badge as it is). */
  private async badge(): Promise<number | undefined> {
    const s = this.rt.store;
    if (!s.unreadCount || !this.readable()) return undefined;
    try {
      return badgeValue(await s.unreadCount());
    } catch (e) {
      this.rt.log('warn', 'push', 'badge not read', { code: isNsekitError(e) ? e.code : 'unknown' });
      return undefined;
    }
  }

  /**
   * Present `c`: read the badge and whether its thread was opened since it was stored, then call
   * `deliver` synchronously with the content to emit — or null: the user has read it already (a
   * banner now would stay on the lock screen for a read message). `deliver` re-checks its own
   * conditions (the NSE: out of time, app in front) since the reads take a moment.
   */
  show(c: NotificationContent, deliver: (p: Presented | null) => void): Promise<void> {
    return this.serial(async () => {
      const badge = await this.badge();
      const s = this.rt.store;
      let read = this.readHere.has(c.msgId);
      // Read last: nothing else is awaited between this answer and the emit.
      if (!read && s.isRead && this.readable()) read = await s.isRead(c.msgId).catch(() => false);
      deliver(read ? null : { ...withThread(c), ...(badge !== undefined ? { badge } : {}) });
    });
  }

  /** Set the badge to the unread count now (the app: end of a wake, after an import). */
  publishBadge(): Promise<void> {
    return this.serial(async () => {
      const badge = await this.badge();
      if (badge !== undefined) this.rt.emit('badge', { count: badge });
    });
  }

  /**
   * The user opened the conversation (a tap): every message of the queue stored so far becomes
   * read, then `thread-read` tells the host to remove the thread's delivered notifications and set
   * the badge. Returns the msgIds that became read.
   */
  openThread(queueId: string): Promise<string[]> {
    const { rt } = this;
    let read: string[] = [];
    let upTo: number | null = null;
    return this.serial(async () => {
      const s = rt.store;
      if (s.markThreadRead && this.readable()) {
        // How far the read reaches, for the other devices: read before marking, so a message stored
        // in between is left unread there (a banner left behind, never one removed unseen).
        upTo = s.threadLastTs ? await s.threadLastTs(queueId).catch(() => null) : null;
        read = await rt.retryOnLockTimeout('markThreadRead', () => s.markThreadRead!(queueId), () => true, { queueId });
        this.remember(read);
      }
      const badge = await this.badge();
      const threadId = threadIdOf(queueId);
      rt.log('info', 'push', `open thread=${threadId}`, { read: read.length, badge: badge ?? null });
      rt.emit('thread-read', { threadId, queueId, msgIds: read, ...(badge !== undefined ? { badge } : {}) });
    })
      .then(() => this.afterOpen(queueId, upTo))
      .then(() => read);
  }

  /** Set by the app: tell the user's other devices (./app/read-send.ts). How far the read reached: `upTo` (null: unknown). */
  afterOpen: (queueId: string, upTo: number | null) => Promise<unknown> = async () => {};

  /**
   * Another of the user's devices read this conversation up to relay ts `upTo` (./read-sync.ts):
   * the copies here become read (durably: the marker is ACKed after this), then `thread-read`
   * with `remote: true` names the msgIds whose notifications go, and the badge.
   */
  remoteRead(queueId: string, upTo: number): Promise<string[]> {
    const { rt } = this;
    let read: string[] = [];
    return this.serial(async () => {
      const s = rt.store;
      if (!s.markThreadRead) return;
      read = await rt.retryOnLockTimeout('markThreadRead', () => s.markThreadRead!(queueId, upTo), () => true, { queueId, remote: true });
      this.remember(read);
      const badge = await this.badge();
      const threadId = threadIdOf(queueId);
      rt.log('info', 'push', `read elsewhere thread=${threadId}`, { read: read.length, badge: badge ?? null });
      rt.emit('thread-read', { threadId, queueId, msgIds: read, remote: true, ...(badge !== undefined ? { badge } : {}) });
    }).then(() => read);
  }

  private remember(read: string[]): void {
    for (const id of read) this.readHere.add(id);
    for (const id of this.readHere) {
      if (this.readHere.size <= READ_HERE_MAX) break;
      this.readHere.delete(id);
    }
  }
}
