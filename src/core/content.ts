/**
 * The plaintext inside an end-to-end message body, and how it becomes
 * notification text. Encoded as UTF-8 JSON with the portable byte helpers.
 */
import { utf8Decode, utf8Encode } from './bytes.js';
import { NsekitError } from './errors.js';
import type { ContentKind } from './host.js';

export interface MessageContent {
  type: ContentKind;
  text?: string;
  /** Group name for group messages. */
  group?: string;
  /** Display name of the sender. */
  from?: string;
}

const TYPES = new Set<string>(['text', 'image', 'group_message', 'receipt', 'other']);
const FIELDS = ['text', 'group', 'from'] as const;

export function encodeContent(c: MessageContent): Uint8Array {
  // Fixed field order so equal contents encode to equal bytes.
  const o: Record<string, string> = { type: c.type };
  for (const f of FIELDS) if (c[f] !== undefined) o[f] = c[f]!;
  return utf8Encode(JSON.stringify(o));
}

/** Strict decode: CONTENT_MALFORMED for anything that is not an encoded MessageContent. */
export function decodeContent(b: Uint8Array): MessageContent {
  let v: unknown;
  try {
    v = JSON.parse(utf8Decode(b));
  } catch {
    throw new NsekitError('CONTENT_MALFORMED', 'content is not JSON', { bytes: b.length });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new NsekitError('CONTENT_MALFORMED', 'content is not an object');
  }
  const o = v as Record<string, unknown>;
  if (typeof o.type !== 'string' || !TYPES.has(o.type)) {
    throw new NsekitError('CONTENT_MALFORMED', 'content has no valid type', { type: String(o.type).slice(0, 32) });
  }
  const c: MessageContent = { type: o.type as ContentKind };
  for (const f of FIELDS) {
    if (o[f] === undefined) continue;
    if (typeof o[f] !== 'string') throw new NsekitError('CONTENT_MALFORMED', `content field ${f} is not a string`);
    c[f] = o[f] as string;
  }
  return c;
}

/** Content the user should see (and be notified of); receipts and unknown kinds are not. */
export function isUserContent(c: MessageContent): boolean {
  return c.type === 'text' || c.type === 'image' || c.type === 'group_message';
}

export const NOTIFICATION_TEXT_MAX = 100;

/** Truncate to `max` code points (never splitting a surrogate pair), with an ellipsis. */
export function truncateText(s: string, max = NOTIFICATION_TEXT_MAX): string {
  // No more UTF-16 units than the limit means no more code points either: the common case, no copy.
  if (s.length <= max) return s;
  const cps = Array.from(s);
  return cps.length <= max ? s : cps.slice(0, max - 1).join('') + '…';
}

/** Title and body of the notification for user content. */
export function notificationText(c: MessageContent): { title: string; body: string } {
  const text = c.type === 'image' ? (c.text ? `📷 ${c.text}` : '📷 Image') : (c.text ?? '');
  if (c.type === 'group_message') {
    return {
      title: c.group ?? 'New message',
      body: truncateText(c.from ? `${c.from}: ${text}` : text),
    };
  }
  return { title: c.from ?? 'New message', body: truncateText(text) };
}
