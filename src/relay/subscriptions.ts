import type { ServerFrame } from '../core/protocol/frames.js';
import { toBase64 } from '../core/bytes.js';
import type { MsgRow, RelayDb } from './db.js';

/** What the subscription registry needs from a connection. */
export interface Subscriber {
  readonly connId: number;
  sendFrame(f: ServerFrame): void;
  /** Called when this subscriber lost `queueId` to a newer one (after END was sent). */
  onSubscriptionEnded(queueId: string): void;
}

interface Sub {
  conn: Subscriber;
  /** msgId delivered and not yet ACKed; the next is delivered only after its ACK. */
  inFlight: string | null;
}

export function msgFrame(m: MsgRow, corrId?: string): ServerFrame {
  const f: ServerFrame = {
    type: 'MSG',
    queueId: m.queueId,
    msgId: m.msgId,
    ts: m.ts,
    flags: { notification: m.notification },
    body: toBase64(m.body),
  };
  if (corrId !== undefined) f.corrId = corrId;
  return f;
}

/**
 * One subscriber per queue (docs/protocol.md). SUB delivers the first un-ACKed
 * message; the next one only after that one is ACKed (by anyone holding the
 * recipient credential). A new SUB from another connection sends END to the
 * previous subscriber. A repeated SUB from the same connection redelivers.
 */
export class Subscriptions {
  private readonly subs = new Map<string, Sub>();

  constructor(private readonly db: RelayDb) {}

  count(): number {
    return this.subs.size;
  }

  isSubscribed(queueId: string, conn: Subscriber): boolean {
    return this.subs.get(queueId)?.conn === conn;
  }

  /** Registers `conn`; the caller sends OK, then calls deliverNext. */
  subscribe(queueId: string, conn: Subscriber): void {
    const prev = this.subs.get(queueId);
    if (prev && prev.conn !== conn) {
      prev.conn.sendFrame({ type: 'END', queueId });
      prev.conn.onSubscriptionEnded(queueId);
    }
    this.subs.set(queueId, { conn, inFlight: null });
  }

  unsubscribe(queueId: string, conn: Subscriber): void {
    if (this.subs.get(queueId)?.conn === conn) this.subs.delete(queueId);
  }

  dropConnection(conn: Subscriber, queueIds: Iterable<string>): void {
    for (const q of queueIds) this.unsubscribe(q, conn);
  }

  /** Deliver the first un-ACKed message if nothing is in flight on this queue's subscription. */
  deliverNext(queueId: string): void {
    const sub = this.subs.get(queueId);
    if (!sub || sub.inFlight !== null) return;
    const m = this.db.firstMessage(queueId);
    if (!m) return;
    sub.inFlight = m.msgId;
    sub.conn.sendFrame(msgFrame(m));
  }

  /** After `msgId` was deleted: if it was the one in flight, move on to the next. */
  acked(queueId: string, msgId: string): void {
    const sub = this.subs.get(queueId);
    if (!sub || sub.inFlight !== msgId) return;
    sub.inFlight = null;
    this.deliverNext(queueId);
  }
}
