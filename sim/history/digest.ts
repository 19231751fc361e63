import { NOTIFICATION_TEXT_MAX } from '../../src/core/content.js';
import { GENERIC_TITLE } from '../../src/core/inbound/index.js';

/**
 * A short fingerprint of a message text for the history (docs/invariants.md 13 "Content"): the
 * history never holds message text, yet the checkers must tell whether what was stored and shown
 * is what was sent. FNV-1a over the UTF-16 code units, 32 bits, hex: a check, not a secret.
 */
export function textDigest(s: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, '0');
}

/**
 * What a sender's `send` ok records of a text message (no `from`): its text's digest, and the
 * notification body that text must give — the text itself while it fits the notification's limit
 * (docs/notifications.md); longer texts are cut by the presenting side's rules, so their body is
 * not judged (no `bodyDigest`).
 */
export function sentDigests(text: string): { textDigest: string; bodyDigest?: string } {
  const d = textDigest(text);
  return text.length <= NOTIFICATION_TEXT_MAX ? { textDigest: d, bodyDigest: d } : { textDigest: d };
}

/** What a `notify` ok records of the content shown: the body's digest, and whether it is the generic (locked) content. */
export function shownDigests(fields: Record<string, unknown>): { bodyDigest: string; generic: boolean } {
  const body = typeof fields.body === 'string' ? fields.body : '';
  return { bodyDigest: textDigest(body), generic: body === '' && fields.title === GENERIC_TITLE };
}
