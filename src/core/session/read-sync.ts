/**
 * Read on one device, cleared on the others (docs/notifications.md "Read on another device").
 *
 * The receiving side (both processes); the sending side is the app's (./app/read-send.ts).
 *
 * A user's devices each have their own queue per conversation, so the copies of one message have
 * different msgIds. What they share is the relay's `ts`: a GSEND commits every copy in one
 * transaction stamped with one clock reading (docs/protocol.md "Fan-out to a user's devices").
 * So a read travels as a cursor — "conversation C is read up to relay ts T" — and each device maps
 * it onto its own copies (its stored messages of that conversation with `ts <= T`).
 *
 * The marker goes to each other device's **device-sync queue** (`LinkedDevice`, sender side), a
 * queue that carries nothing else: that device's NSE and app recognise it by the queue alone, so
 * even a locked NSE (which cannot open a body) shows nothing for it. It is sent with the
 * notification flag so the relay pushes that device (its NSE applies the read while the app
 * sleeps). On the receiving side it is stored without the flag (never shown, never counted in the
 * badge) and applied before its ACK; appended while locked, it is applied at the import.
 */
import { utf8Decode } from '../bytes.js';
import { NsekitError } from '../errors.js';
import type { SessionRuntime } from './runtime.js';

export interface ReadMarker {
  conversation: string;
  /** Read up to this relay ts (inclusive). */
  upTo: number;
}

/** Strict: CONTENT_MALFORMED for anything else (kept as a message, never applied). */
export function decodeReadMarker(b: Uint8Array): ReadMarker {
  let v: unknown;
  try {
    v = JSON.parse(utf8Decode(b));
  } catch {
    throw new NsekitError('CONTENT_MALFORMED', 'read marker is not JSON');
  }
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  if (o.type !== 'read' || typeof o.conversation !== 'string' || o.conversation === '' || !Number.isSafeInteger(o.upTo) || (o.upTo as number) < 0) {
    throw new NsekitError('CONTENT_MALFORMED', 'not a read marker');
  }
  return { conversation: o.conversation, upTo: o.upTo as number };
}

export class ReadSync {
  /** conversation → this device's queue for it. */
  private readonly byConversation = new Map<string, string>();

  constructor(private readonly rt: SessionRuntime) {
    for (const q of rt.cfg.queues) if (q.conversation !== undefined && !q.deviceSync) this.byConversation.set(q.conversation, q.queueId);
  }

  /** Messages on this queue are the other devices' read markers. */
  isSyncQueue(queueId: string): boolean {
    return this.rt.queueCfg.get(queueId)?.deviceSync === true;
  }

  /**
   * A marker arrived on the sync queue (opened with its e2e key): apply it durably — the
   * conversation's copies up to `upTo` become read, their notifications go, the badge drops.
   * A marker that does not parse, or names a conversation this device does not have, is ignored.
   */
  async apply(plain: Uint8Array, via: string): Promise<void> {
    let m: ReadMarker;
    try {
      m = decodeReadMarker(plain);
    } catch {
      this.rt.log('warn', 'push', 'bad read marker', { via });
      return;
    }
    const queueId = this.byConversation.get(m.conversation);
    if (queueId === undefined) this.rt.log('warn', 'push', 'read marker: unknown conversation', { via });
    else await this.rt.presenter.remoteRead(queueId, m.upTo);
  }
}
