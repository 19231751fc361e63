import { msgIdOf } from '../history/pairs.js';
import { happened, resolveFinal } from './common.js';
import { verdict, type Checker, type Violation } from './types.js';

/**
 * Invariant 7 — liveness. Every message a `sender` sent (`send` ok with a
 * msgId) is in the final store snapshot, taken after the final heal and the
 * convergence wait. If `convergenceMs` is known, a `db.write` inserting it more
 * than convergenceMs after the convergence began is also reported (stored late): the last
 * `heal`, or the harness's `converge` op after it (the healed app is in front again —
 * a relaunch after a kill or power cut is a process start, not protocol time).
 * Messages still in the pending inbox are reported (not yet imported). A poison message (`send`
 * ok with `poison: true`: sealed under a key the device does not have) belongs in the store's
 * quarantine instead — kept, ACKed, never in `messages`.
 */
export const checkLiveness: Checker = (history, final) => {
  const fin = resolveFinal(history, final);
  const sent = new Map<string, number>();
  const poison = new Set<string>();
  let anonymous = 0;
  let lastHeal: number | undefined;
  const writes = new Map<string, { index: number; time: number }>();
  for (const op of history) {
    if ((op.f === 'heal' || (op.f === 'converge' && op.proc === 'orchestrator')) && happened(op)) lastHeal = op.time;
    if (op.proc === 'sender' && op.f === 'send' && op.type === 'ok') {
      const id = msgIdOf(op);
      if (id) sent.set(id, op.index);
      else anonymous++;
      if (id && op.value?.poison === true) poison.add(id);
    }
    if (op.f === 'db.write' && op.type === 'ok' && op.value?.inserted === true) {
      const id = msgIdOf(op);
      if (id && !writes.has(id)) writes.set(id, { index: op.index, time: op.time });
    }
  }
  const notes: string[] = [];
  if (anonymous > 0) notes.push(`${anonymous} send ok op(s) carry no msgId and cannot be followed`);
  if (!fin.store) return verdict('liveness', [], ['no final store snapshot', ...notes], sent.size > 0, 'liveness');
  const stored = new Set(fin.store.msgIds);
  const inbox = new Set(fin.inbox?.msgIds ?? []);
  const quarantined = new Set(fin.store.quarantine ?? []);
  const violations: Violation[] = [];
  for (const [id, at] of sent) {
    const ops = [at];
    if (fin.store.op !== undefined) ops.push(fin.store.op);
    if (poison.has(id)) {
      if (stored.has(id)) violations.push({ detail: `poison message ${id} (it never opens) is in the store's messages`, ops, msgId: id });
      else if (!quarantined.has(id) && fin.store.quarantine !== undefined) {
        violations.push({ detail: `poison message ${id} sent but ${inbox.has(id) ? 'still in the pending inbox' : 'not in the quarantine'} at the end of the run`, ops, msgId: id });
      }
      continue;
    }
    if (!stored.has(id)) {
      const where = inbox.has(id) ? 'still in the pending inbox' : 'not delivered';
      violations.push({ detail: `message ${id} sent but ${where} at the end of the run`, ops, msgId: id });
      continue;
    }
    const w = writes.get(id);
    if (w && lastHeal !== undefined && fin.convergenceMs !== undefined && w.time > lastHeal + fin.convergenceMs) {
      violations.push({
        detail: `message ${id} stored ${w.time - lastHeal} ms after the convergence began (bound ${fin.convergenceMs} ms)`,
        ops: [at, w.index],
        msgId: id,
      });
    }
  }
  return verdict('liveness', violations, notes, anonymous > 0, 'liveness');
};
