import { msgIdOf } from '../history/pairs.js';
import { DEVICE_PROCS, resolveFinal } from './common.js';
import { verdict, type Checker, type Violation } from './types.js';

/**
 * Invariant 1 — no loss. Every msgId the relay deleted on ACK must be in the
 * final store or the pending inbox. "Deleted" = a relay `ack` ok, a device
 * (`app`/`nse`) `ack` ok (the relay confirmed the delete), or the relay
 * snapshot's `deleted` list.
 */
export const checkNoLoss: Checker = (history, final) => {
  const fin = resolveFinal(history, final);
  const deleted = new Map<string, number[]>();
  const add = (id: string, op?: number) => {
    const l = deleted.get(id) ?? [];
    if (op !== undefined) l.push(op);
    deleted.set(id, l);
  };
  for (const op of history) {
    if (op.f !== 'ack' || op.type !== 'ok') continue;
    if (op.proc !== 'relay' && !(DEVICE_PROCS as readonly string[]).includes(op.proc)) continue;
    const id = msgIdOf(op);
    if (id) add(id, op.index);
  }
  for (const d of fin.relayDeleted) add(d.msgId, d.op);
  if (!fin.store) {
    return verdict('no-loss', [], ['no final store snapshot: cannot tell where ACKed messages went'], deleted.size > 0);
  }
  // The quarantine keeps a message that never opens, sealed as received: durable, not lost.
  const present = new Set([...fin.store.msgIds, ...(fin.inbox?.msgIds ?? []), ...(fin.store.quarantine ?? [])]);
  const violations: Violation[] = [];
  for (const [id, ops] of deleted) {
    if (present.has(id)) continue;
    const evidence = [...ops];
    if (fin.store.op !== undefined) evidence.push(fin.store.op);
    if (fin.inbox?.op !== undefined) evidence.push(fin.inbox.op);
    violations.push({
      detail: `message ${id} was deleted at the relay (ACKed) but is in neither the store, its quarantine nor the pending inbox`,
      ops: evidence,
      msgId: id,
    });
  }
  const notes = fin.inbox ? [] : ['no pending-inbox snapshot: only the store was searched'];
  return verdict('no-loss', violations, notes);
};
