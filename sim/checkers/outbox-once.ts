import type { Op, Violation } from './types.js';

/**
 * Outbox items are sent once (docs/invariants.md "no-duplicates"): every SEND of an item carries
 * its clientId, so a resend after a lost OK — e.g. an item whose SEND was in flight when a
 * background window expired (docs/processes.md "Background windows") — must come back from the
 * relay as the same message (`duplicate: true`), never as a second one. A violation is one
 * clientId on one queue with two different msgIds in the app's completed `send` ops.
 */
export function outboxOnce(history: readonly Op[]): Violation[] {
  const seen = new Map<string, { msgId: string; index: number }>();
  const out: Violation[] = [];
  for (const op of history) {
    if (op.proc !== 'app' || op.f !== 'send' || op.type !== 'ok') continue;
    const v = op.value as { clientId?: unknown; queueId?: unknown; msgId?: unknown } | undefined;
    if (typeof v?.clientId !== 'string' || typeof v.msgId !== 'string') continue;
    const key = `${String(v.queueId)}\u0000${v.clientId}`;
    const first = seen.get(key);
    if (!first) seen.set(key, { msgId: v.msgId, index: op.index });
    else if (first.msgId !== v.msgId) {
      out.push({ detail: `outbox item ${v.clientId} reached the relay twice: ${first.msgId} and ${v.msgId}`, ops: [first.index, op.index], msgId: v.msgId, proc: 'app' });
    }
  }
  return out;
}
