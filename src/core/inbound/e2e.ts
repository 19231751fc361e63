/**
 * The end-to-end body as the sender makes it: encodeContent(c) sealed with the
 * queue's e2e key as EnvelopeKind.e2eBody, bound to the queue only (the
 * sender cannot know the msgId the relay will assign).
 */
import { encodeContent, type MessageContent } from '../content.js';
import { EnvelopeKind, seal, type EnvelopeBinding } from '../crypto/index.js';
import type { Rng } from '../host.js';

export function e2eBinding(queueId: string): EnvelopeBinding {
  return { kind: EnvelopeKind.e2eBody, recordId: '', queueId };
}

/** The relay message body for `content` on `queueId`. */
export function sealForQueue(e2eKey: Uint8Array, rng: Rng, queueId: string, content: MessageContent): Uint8Array {
  return seal(e2eKey, rng, e2eBinding(queueId), encodeContent(content));
}
