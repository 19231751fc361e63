import { utf8Decode, utf8Encode } from '../bytes.js';
import { EnvelopeKind, open, seal } from '../crypto/envelope.js';
import { NsekitError } from '../errors.js';
import type { Rng } from '../host.js';

/**
 * Encrypted notification ids. The relay never puts a message body in a push:
 * a push carries, per message, the queue's notifierId (random, not the queueId)
 * and the msgId sealed with the per-queue notifier key the recipient got in
 * NID at NSUB time. Only the device can open it; APNs sees random bytes.
 *
 * Envelope binding: kind notificationId, recordId = notifierId, queueId = "" —
 * so a sealed id moved to another queue's notifierId fails to open.
 */
export interface PushNid {
  /** Which queue (the device maps notifierId → queueId locally). */
  notifierId: string;
  /** base64 sealed envelope of JSON {msgId, ts}. */
  sealed: string;
}

export interface NotificationRef {
  msgId: string;
  ts: number;
}

function binding(notifierId: string) {
  return { kind: EnvelopeKind.notificationId, recordId: notifierId, queueId: '' } as const;
}

export function sealNotificationId(notifierKey: Uint8Array, rng: Rng, notifierId: string, ref: NotificationRef): Uint8Array {
  return seal(notifierKey, rng, binding(notifierId), utf8Encode(JSON.stringify({ msgId: ref.msgId, ts: ref.ts })));
}

export function openNotificationId(notifierKey: Uint8Array, notifierId: string, sealed: Uint8Array): NotificationRef {
  const plain = open(notifierKey, binding(notifierId), sealed);
  let v: unknown;
  try {
    v = JSON.parse(utf8Decode(plain));
  } catch {
    throw new NsekitError('PROTO_MALFORMED', 'notification id plaintext is not JSON');
  }
  const o = v as Partial<NotificationRef> | null;
  if (!o || typeof o.msgId !== 'string' || typeof o.ts !== 'number') {
    throw new NsekitError('PROTO_MALFORMED', 'notification id plaintext lacks msgId/ts');
  }
  return { msgId: o.msgId, ts: o.ts };
}
