import { happened } from './common.js';
import { verdict, type Checker, type Op, type Violation } from './types.js';

/**
 * Invariant 13 — content (docs/invariants.md): what is stored and shown is what was sent.
 *
 * The history never holds message text, only digests (sim/history/digest.ts): a sender's `send` ok
 * carries `textDigest` (the text sealed), `bodyDigest` (the notification body that text must give)
 * and `notification` (the relay flag); the final `store.snapshot` carries `content`, each stored
 * row opened with the store's body key under its own msgId and queue; a `notify` ok carries the
 * shown body's `bodyDigest` and `generic` (the locked device's "New message" with no body).
 *
 * (a) every stored row opens with the body key under its own (msgId, queueId) binding;
 * (b) the row of a sent message is in its queue, its text is the text sent, its notification flag the one sent;
 * (c) a notification for a sent message names its queue and shows the body that message's text
 *     gives — or the generic content a locked device shows.
 */
interface Sent {
  op: number;
  queueId: string;
  textDigest: string;
  bodyDigest: string | null;
  notification: boolean | null;
}
interface Row {
  queueId?: unknown;
  opens?: unknown;
  textDigest?: unknown;
  notification?: unknown;
}
const val = (op: Op): Record<string, unknown> => (op.value ?? {}) as Record<string, unknown>;

export const checkContent: Checker = (history) => {
  const violations: Violation[] = [];
  const sent = new Map<string, Sent>();
  let snap: Op | null = null;
  for (const op of history) {
    const v = val(op);
    if (op.proc === 'sender' && op.f === 'send' && op.type === 'ok' && typeof v.msgId === 'string' && typeof v.textDigest === 'string') {
      sent.set(v.msgId, {
        op: op.index,
        queueId: String(v.queueId),
        textDigest: v.textDigest,
        bodyDigest: typeof v.bodyDigest === 'string' ? v.bodyDigest : null,
        notification: typeof v.notification === 'boolean' ? v.notification : null,
      });
    }
    if (op.f === 'store.snapshot' && happened(op) && typeof v.content === 'object' && v.content !== null) snap = op;
  }
  const shown = history.filter((op) => (op.proc === 'app' || op.proc === 'nse') && op.f === 'notify' && op.type === 'ok' && 'bodyDigest' in val(op));
  if (!snap && shown.length === 0) return verdict('content', [], ['no content digests in this history (recorded before invariant 13): not judged']);
  if (snap) {
    for (const [msgId, r] of Object.entries(val(snap).content as Record<string, Row>)) {
      const s = sent.get(msgId);
      const ops = s ? [s.op, snap.index] : [snap.index];
      if (r.opens !== true) {
        violations.push({ detail: `stored message ${msgId} does not open with the store's body key under its own msgId and queue`, ops, msgId });
        continue;
      }
      if (!s) continue;
      if (r.queueId !== s.queueId) violations.push({ detail: `message ${msgId} was sent to ${s.queueId} but is stored under ${String(r.queueId)}`, ops, msgId });
      if (r.textDigest !== s.textDigest) violations.push({ detail: `stored message ${msgId} is not the text sent (digest ${String(r.textDigest)}, sent ${s.textDigest})`, ops, msgId });
      if (s.notification !== null && r.notification !== s.notification) {
        violations.push({ detail: `message ${msgId} was sent with notification=${s.notification} but is stored with ${String(r.notification)}`, ops, msgId });
      }
    }
  }
  for (const op of shown) {
    const v = val(op);
    const s = typeof v.msgId === 'string' ? sent.get(v.msgId) : undefined;
    if (!s) continue;
    const msgId = v.msgId as string;
    if (v.queueId !== s.queueId) violations.push({ detail: `notification for ${msgId} names ${String(v.queueId)}, but it was sent to ${s.queueId}`, ops: [s.op, op.index], msgId, proc: op.proc });
    else if (v.generic !== true && s.bodyDigest !== null && v.bodyDigest !== s.bodyDigest) {
      violations.push({ detail: `notification for ${msgId} shows a body that is not its text's (digest ${String(v.bodyDigest)}, expected ${s.bodyDigest})`, ops: [s.op, op.index], msgId, proc: op.proc });
    }
  }
  return verdict('content', violations);
};
