import { msgIdOf } from '../history/pairs.js';
import { countBy, resolveFinal } from './common.js';
import { verdict, type Checker, type Violation } from './types.js';
import { outboxOnce } from './outbox-once.js';

/**
 * Invariant 2 — no duplicates. (a) Each relay msgId is stored once: the final
 * store has at most one row per msgId, and at most one `db.write` ok reports
 * `inserted: true` for it. (b) Each message is notified at most once: at most
 * one `notify` ok per msgId across all processes. A `notify` that ended as
 * `info` (indeterminate) next to an ok makes the verdict 'unknown', not false.
 * (c) Each app outbox item reaches the relay as one message (./outbox-once.ts).
 */
export const checkNoDuplicates: Checker = (history, final) => {
  const fin = resolveFinal(history, final);
  const violations: Violation[] = [];
  const notes: string[] = [];
  let unknown = false;

  const inserts = new Map<string, number[]>();
  const notifies = new Map<string, { ok: number[]; maybe: number[] }>();
  for (const op of history) {
    const id = msgIdOf(op);
    if (!id) continue;
    if (op.f === 'db.write' && op.type === 'ok' && op.value?.inserted === true) {
      inserts.set(id, [...(inserts.get(id) ?? []), op.index]);
    } else if (op.f === 'notify' && (op.type === 'ok' || op.type === 'info')) {
      const n = notifies.get(id) ?? { ok: [], maybe: [] };
      (op.type === 'ok' ? n.ok : n.maybe).push(op.index);
      notifies.set(id, n);
    }
  }
  for (const [id, ops] of inserts) {
    if (ops.length > 1) violations.push({ detail: `message ${id} inserted ${ops.length} times (db.write inserted=true)`, ops, msgId: id });
  }
  if (fin.store) {
    for (const [id, n] of countBy(fin.store.msgIds)) {
      if (n > 1) {
        const ops = [...(inserts.get(id) ?? [])];
        if (fin.store.op !== undefined) ops.push(fin.store.op);
        violations.push({ detail: `message ${id} has ${n} rows in the final store`, ops, msgId: id });
      }
    }
  } else {
    notes.push('no final store snapshot: row counts not checked');
  }
  for (const [id, n] of notifies) {
    if (n.ok.length > 1) {
      violations.push({ detail: `message ${id} notified ${n.ok.length} times`, ops: n.ok, msgId: id });
    } else if (n.ok.length + n.maybe.length > 1) {
      unknown = true;
      notes.push(`message ${id}: a notify with unknown outcome next to another notify (ops ${[...n.ok, ...n.maybe].join(',')})`);
    }
  }
  violations.push(...outboxOnce(history));
  return verdict('no-duplicates', violations, notes, unknown);
};
