import { pairOps, pairValue, startOf, type OpPair } from '../history/pairs.js';
import { DEVICE_PROCS, happened, isEnd, sameProc, targetOf, type ProcRef } from './common.js';
import { verdict, type Checker, type Op, type Violation } from './types.js';

interface Held {
  pair: OpPair;
  who: ProcRef;
  queueId: string;
  msgId: string;
  start: number;
  /** Index of the op that let the message go (Infinity: held to the end). */
  end: number;
  endOp?: number;
}

/**
 * First op by which `who` let go of msgId on queueId: a freeze of that instance from the GET's
 * invoke on (`invoked`; frozen mid-receive counts), any other release after its completion (`from`).
 */
function releaseOf(history: readonly Op[], invoked: number, from: number, who: ProcRef, queueId: string, msgId: string): Op | undefined {
  for (let i = invoked + 1; i < history.length; i++) {
    const op = history[i]!;
    // Frozen (a `freeze` step, a budget, or 0xdead10cc → kill) or ended: a GET that can no longer
    // ACK is abandoned; the relay cannot know, so re-serving M to a live GET is not a race.
    if ((isEnd(op) || (op.f === 'freeze' && happened(op))) && sameProc(targetOf(op), who)) return op;
    if (i <= from) continue;
    const self: ProcRef = op.pid === undefined ? { proc: op.proc } : { proc: op.proc, pid: op.pid };
    if (!sameProc(self, who)) continue;
    if (op.f === 'ack' && (op.type === 'ok' || op.type === 'fail') && op.value?.msgId === msgId) return op;
    if ((op.f === 'queue.slot.released' || op.fp === 'queue.slot.released') && happened(op) && (op.value?.queueId ?? queueId) === queueId) return op;
    // Suspended (drained, gates closed): it runs no GET until reactivated and its pending ACK of a
    // message it already stored is idempotent, so the relay re-serving it to the app is not a race.
    if (op.f === 'phase' && happened(op) && (op.value?.phase ?? op.phase) === 'suspended') return op;
  }
  return undefined;
}

/**
 * Invariant 5 — GET isolation. A GET that returned message M on queue Q
 * "holds" M from its invoke until its process lets go: its ACK of M completes
 * (ok or fail), it records `queue.slot.released` for Q, it reports phase
 * `suspended` (drained: no GET runs until it is reactivated), it is frozen (from the GET's
 * invoke on; an abandoned GET, whether or not it is thawed later), or it ends (kill, exit,
 * jetsam, the 0xdead10cc kill). Releases are per instance: a relaunch has a new pid. Another GET (any process) that returns M on Q and was invoked
 * before that release is a violation. A GET invoked after a release without
 * ACK may legitimately see M again (the relay re-serves un-ACKed messages).
 */
export const checkGetIsolation: Checker = (history) => {
  const held: Held[] = [];
  for (const p of pairOps(history)) {
    const s = startOf(p);
    if (p.complete?.f !== 'get' || p.complete.type !== 'ok' || !(DEVICE_PROCS as readonly string[]).includes(s.proc)) continue;
    const v = pairValue(p);
    if (typeof v.msgId !== 'string' || typeof v.queueId !== 'string') continue;
    const who: ProcRef = s.pid === undefined ? { proc: s.proc } : { proc: s.proc, pid: s.pid };
    const rel = releaseOf(history, s.index, p.complete.index, who, v.queueId, v.msgId);
    held.push({ pair: p, who, queueId: v.queueId, msgId: v.msgId, start: s.index, end: rel?.index ?? Infinity, endOp: rel?.index });
  }
  held.sort((a, b) => a.start - b.start);
  // Only GETs that returned the same message on the same queue can conflict.
  const groups = new Map<string, Held[]>();
  for (const h of held) {
    const k = `${h.queueId}\u0000${h.msgId}`;
    const g = groups.get(k);
    if (g) g.push(h);
    else groups.set(k, [h]);
  }
  const violations: Violation[] = [];
  for (const group of groups.values()) for (let i = 0; i < group.length; i++) {
    const a = group[i]!;
    for (let j = i + 1; j < group.length; j++) {
      const b = group[j]!;
      if (b.start >= a.end) continue;
      const ops = [a.start, a.pair.complete!.index, b.start, b.pair.complete!.index];
      violations.push({
        detail: `GETs by ${a.who.proc} (op ${a.start}) and ${b.who.proc} (op ${b.start}) on queue ${a.queueId} both returned ${a.msgId}; ` +
          (a.endOp === undefined ? 'the first never released it' : `the first released it only at op ${a.endOp}`),
        ops,
        msgId: a.msgId,
      });
    }
  }
  violations.sort((x, y) => x.ops[0]! - y.ops[0]!);
  return verdict('get-isolation', violations);
};
