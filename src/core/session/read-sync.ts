/**
 * Read on one device, cleared on the others (docs/notifications.md "Read on another device").
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
import { utf8Decode, utf8Encode } from '../bytes.js';
import { NsekitError, isNsekitError } from '../errors.js';
import { EnvelopeKind, seal } from '../crypto/index.js';
import type { LinkedDevice } from './config.js';
import { hexBytes, type SessionRuntime } from './runtime.js';

export interface ReadMarker {
  conversation: string;
  /** Read up to this relay ts (inclusive). */
  upTo: number;
}

export function encodeReadMarker(m: ReadMarker): Uint8Array {
  return utf8Encode(JSON.stringify({ type: 'read', conversation: m.conversation, upTo: m.upTo }));
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
  private readonly peers: (LinkedDevice & { e2e: Uint8Array })[];
  /** conversation → this device's queue for it. */
  private readonly byConversation = new Map<string, string>();

  constructor(private readonly rt: SessionRuntime) {
    this.peers = (rt.cfg.linkedDevices ?? []).map((d) => ({ ...d, e2e: hexBytes(d.e2eKey, `e2eKey of linked ${d.queueId}`) }));
    for (const q of rt.cfg.queues) if (q.conversation !== undefined && !q.deviceSync) this.byConversation.set(q.conversation, q.queueId);
  }

  /** Messages on this queue are the other devices' read markers. */
  isSyncQueue(queueId: string): boolean {
    return this.rt.queueCfg.get(queueId)?.deviceSync === true;
  }

  /** The sender credentials of the other devices' sync queues (the transport needs them to SEND). */
  peerCreds(): { queueId: string; senderCred: string }[] {
    return this.peers.map((p) => ({ queueId: p.queueId, senderCred: p.senderKey }));
  }

  /**
   * This device read `queueId` up to `upTo`: tell every other device. Best effort — a marker that
   * cannot be sent leaves the other device's banners until the user opens the conversation there;
   * no message is lost. Returns how many devices were told.
   */
  async sendRead(queueId: string, upTo: number | null): Promise<number> {
    const { rt } = this;
    const conversation = rt.queueCfg.get(queueId)?.conversation;
    if (upTo === null || conversation === undefined || this.peers.length === 0) return 0;
    let told = 0;
    for (const p of this.peers) {
      try {
        const body = seal(p.e2e, rt.host.rng, { kind: EnvelopeKind.e2eBody, recordId: '', queueId: p.queueId }, encodeReadMarker({ conversation, upTo }));
        await rt.phase.run('sendNetwork', async () => {
          await rt.ensureConnected();
          await rt.transport.send(p.queueId, body, { notification: true });
        });
        told++;
      } catch (e) {
        rt.log('warn', 'push', 'read marker not sent: the other device keeps its banners until opened there', { queueId: p.queueId, code: isNsekitError(e) ? e.code : String(e) });
      }
    }
    rt.log('info', 'push', `read:sync conversation sent to ${told} device(s)`, { queueId, upTo });
    rt.emit('read-sync', { state: 'sent', queueId, upTo, devices: told, of: this.peers.length });
    return told;
  }

  /**
   * A marker arrived on the sync queue (opened with its e2e key): apply it durably — the
   * conversation's copies up to `upTo` become read, their notifications go, the badge drops.
   * A marker that does not parse, or names a conversation this device does not have, is ignored.
   */
  async apply(plain: Uint8Array, via: string): Promise<void> {
    const { rt } = this;
    let m: ReadMarker;
    try {
      m = decodeReadMarker(plain);
    } catch (e) {
      rt.log('warn', 'push', 'device-sync message ignored', { code: isNsekitError(e) ? e.code : String(e), via });
      return;
    }
    const queueId = this.byConversation.get(m.conversation);
    if (queueId === undefined) {
      rt.log('warn', 'push', 'read marker for a conversation this device does not have: ignored', { via });
      return;
    }
    await rt.presenter.remoteRead(queueId, m.upTo);
  }
}
