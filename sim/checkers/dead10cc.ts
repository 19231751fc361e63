import { happened, isEnd, sameProc, targetOf, type ProcRef } from './common.js';
import { verdict, type Checker, type Op, type Violation } from './types.js';

interface Holding {
  who: ProcRef;
  /** Op that started the hold (lock.acquire ok / db.tx.begin ok). */
  since: number;
}

/**
 * Invariant 3 — no 0xdead10cc. No process may be frozen while it holds the
 * cross-process lock (from its `lock.acquire` ok until its `lock.release` ok)
 * or is inside a DB write transaction (`db.tx.begin` ok until `db.tx.commit`
 * or `db.tx.rollback` completes, ok or fail, or the process releases the
 * lock). A process's end (`kill`, `exit`, `jetsam`) drops both. Independently, every `lock.held-at-freeze` op (the
 * orchestrator's kernel check: /proc/locks or the lease record) is a violation.
 * The freeze moment is the `freeze` op of type ok/info.
 *
 * Excused: iOS's own freeze (not a `freeze` step) of a process the scenario itself holds at a
 * failpoint at that moment (`harness.hold` … `harness.release`: a trigger waiting for its step's
 * turn, a `pause`). That
 * stall is the harness's, not the protocol's — a process stuck in a write or in its suspension
 * for longer than iOS's grace is frozen with a file open whatever the code does. Such freezes are
 * listed in the verdict's notes, never silently dropped.
 */
export const checkNoDead10cc: Checker = (history) => {
  const locks: Holding[] = [];
  const txs: Holding[] = [];
  const violations: Violation[] = [];
  const drop = (list: Holding[], who: ProcRef) => {
    for (let i = list.length - 1; i >= 0; i--) if (sameProc(list[i]!.who, who)) list.splice(i, 1);
  };
  const self = (op: Op): ProcRef => (op.pid === undefined ? { proc: op.proc } : { proc: op.proc, pid: op.pid });
  const holds = new Map<string, number>();
  const key = (r: ProcRef) => `${r.proc}:${r.pid ?? ''}`;
  const heldByHarness = (t: ProcRef) => (holds.get(key(t)) ?? 0) > 0;
  const notes: string[] = [];
  const excused = new Set<string>();

  for (const op of history) {
    if (op.f === 'harness.hold') holds.set(key(self(op)), (holds.get(key(self(op))) ?? 0) + 1);
    else if (op.f === 'harness.release') holds.set(key(self(op)), Math.max(0, (holds.get(key(self(op))) ?? 0) - 1));
    else if (op.f === 'lock.acquire' && op.type === 'ok') locks.push({ who: self(op), since: op.index });
    else if (op.f === 'lock.release' && op.type === 'ok') {
      // Every transaction runs inside the lock: a release also ends any tx whose commit we saw only as an invoke.
      drop(locks, self(op));
      drop(txs, self(op));
    }
    else if (op.f === 'db.tx.begin' && op.type === 'ok') txs.push({ who: self(op), since: op.index });
    else if ((op.f === 'db.tx.commit' || op.f === 'db.tx.rollback') && op.type !== 'invoke') drop(txs, self(op));
    else if (isEnd(op)) {
      drop(locks, targetOf(op));
      drop(txs, targetOf(op));
      holds.delete(key(targetOf(op)));
    } else if (op.f === 'freeze' && happened(op)) {
      // iOS's own freeze (budget, grace, suspended) of a process the scenario holds; a `freeze`
      // step is the scenario's statement that iOS froze it there, and is judged as usual.
      const t = targetOf(op);
      excused.delete(key(t));
      if (heldByHarness(t) && (op.value as { why?: string } | undefined)?.why !== 'step') {
        excused.add(key(t));
        notes.push(`op ${op.index}: freeze of ${t.proc} excused — iOS froze it while the scenario held it at a failpoint (a stall of the harness's making)`);
        continue;
      }
    } else if (op.f === 'lock.held-at-freeze' && excused.has(key(targetOf(op)))) {
      notes.push(`op ${op.index}: kernel check of ${targetOf(op).proc} excused (same freeze)`);
      continue;
    }
    if (op.f === 'freeze' && happened(op)) {
      const t = targetOf(op);
      for (const h of locks.filter((h) => sameProc(h.who, t))) {
        violations.push({ detail: `${t.proc} frozen while holding the lock (acquired at op ${h.since})`, ops: [h.since, op.index], proc: t.proc });
      }
      for (const h of txs.filter((h) => sameProc(h.who, t))) {
        violations.push({ detail: `${t.proc} frozen inside a DB write transaction (begun at op ${h.since})`, ops: [h.since, op.index], proc: t.proc });
      }
    } else if (op.f === 'lock.held-at-freeze') {
      const t = targetOf(op);
      violations.push({ detail: `kernel check: ${t.proc}${t.pid ? ` (pid ${t.pid})` : ''} held the lock when frozen`, ops: [op.index], proc: t.proc });
    }
  }
  return verdict('no-dead10cc', violations, notes);
};
