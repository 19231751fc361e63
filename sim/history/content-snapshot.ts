import { decodeContent } from '../../src/core/content.js';
import { EnvelopeKind, open } from '../../src/core/crypto/index.js';
import { textDigest } from './digest.js';

/** One stored row as the final snapshot reports it to the content checker (sim/checkers/content.ts). */
export interface ContentRow {
  queueId: string;
  /** The body opens with the store's body key under this row's own msgId and queue. */
  opens: boolean;
  /** Digest of the content's text (null: it does not open, is not JSON content, or has no text). */
  textDigest: string | null;
  notification: boolean;
  /** Its conversation was opened since it was stored (here or, by a read marker, on another device). */
  read: boolean;
  /** Stored on the device-sync queue: another device's read marker, kept as the ACK's durable record. */
  deviceSync?: true;
}

/**
 * Opens each stored row with the body key, as the app would to show it, and keeps only digests:
 * the history never holds message text (docs/invariants.md 13). Both modes' final snapshots use it.
 */
export function contentRows(rows: Iterable<{ msgId: string; queueId: string; sealed: Uint8Array; notification: boolean; read: boolean; deviceSync?: boolean }>, bodyKey: Uint8Array): Record<string, ContentRow> {
  const out: Record<string, ContentRow> = {};
  for (const r of rows) {
    let opens = false;
    let digest: string | null = null;
    try {
      const plain = open(bodyKey, { kind: EnvelopeKind.messageBody, recordId: r.msgId, queueId: r.queueId }, r.sealed);
      opens = true;
      try {
        const c = decodeContent(plain) as { text?: unknown };
        if (typeof c.text === 'string') digest = textDigest(c.text);
      } catch {
        // Not content (a read marker, malformed): opened, no text to compare.
      }
      plain.fill(0);
    } catch {
      opens = false;
    }
    out[r.msgId] = { queueId: r.queueId, opens, textDigest: digest, notification: r.notification, read: r.read, ...(r.deviceSync ? { deviceSync: true as const } : {}) };
  }
  return out;
}
