import { pairField, pairOps, startOf, type OpPair } from '../history/pairs.js';
import { DEVICE_PROCS, happened, isEnd, sameProc, selfOf, targetOf, type ProcRef } from './common.js';
import { verdict, type Checker, type Op, type Violation } from './types.js';

interface Held {
  pair: OpPair;
  who: ProcRef;
  queueId: string;
  msgId: string;
  start: number;
  /** Index of the GET's completion (its `get` ok). */
  done: number;
  /** The coordinator slot the GET ran in (the instance's last `queue.slot.acquired` for the queue before it), if known. */
  slot?: number | string;
  /** The ACK (ok or fail) of this GET's message by its instance, matched below. */
  ack?: number;
  /** Index of the op that let the message go (Infinity: held to the end). */
  end: number;
  endOp?: number;
}

const isSlotReleased = (op: Op): boolean => (op.f === 'queue.slot.released' || op.fp === 'queue.slot.released' || op.f === 'fp.queue.slot.released') && happened(op);
/** The coordinator gave the slot up without ACK: its holder never processes the message (a late reply is refused). */
const isSlotExpired = (op: Op): boolean => (op.f === 'queue.slot.expired' || op.fp === 'queue.slot.expired' || op.f === 'fp.queue.slot.expired') && happened(op);
const isSlotAcquired = (op: Op): boolean => (op.f === 'queue.slot.acquired' || op.fp === 'queue.slot.acquired' || op.f === 'fp.queue.slot.acquired') && happened(op);
/** A GET-path ACK completing (the real observer records SUB-path ACKs from the `acked` event, `via: 'event'`: not a GET's). */
const isAckDone = (op: Op): boolean => op.f === 'ack' && (op.type === 'ok' || op.type === 'fail') && op.value?.via !== 'event';

/**
 * Holds are derived from the GET and ACK operations themselves:
 *
 * - each ACK completion (ok or fail) of M on Q by instance I belongs to the **latest** earlier GET
 *   of I that returned M on Q and has no ACK yet (LIFO: a GET released without ACK and then GET
 *   again leaves the older one without ACK; two GETs of M in flight at once both get theirs);
 * - a GET that is ACKed holds M until that ACK completes, whatever the process reported meanwhile
 *   (a slot given up while its message is still being processed is what a coordinator bug looks
 *   like: the report must not hide it);
 * - a GET never ACKed by its instance holds M until the coordinator gave its slot up —
 *   `queue.slot.released` of that slot (`how: 'done'` after a failed write or an empty GET,
 *   `how: 'expired'` after a hold timeout or a forced suspension) — since its ACK never came,
 *   the report is borne out by the history;
 * - in either case a freeze (from the GET's invoke on), kill/jetsam/exit, or a `suspended`
 *   report of the instance ends the hold first.
 */
function holdsOf(history: readonly Op[]): Held[] {
  const held: Held[] = [];
  const lastSlot = new Map<string, number | string>();
  const byStart = new Map<number, Held>();
  const getsOf = new Map<string, Held[]>();
  const key = (who: ProcRef, q: string, m: string) => `${who.proc}#${who.pid ?? ''}\u0000${q}\u0000${m}`;
  for (const p of pairOps(history)) {
    const s = startOf(p);
    if (p.complete?.f !== 'get' || p.complete.type !== 'ok' || !(DEVICE_PROCS as readonly string[]).includes(s.proc)) continue;
    const msgId = pairField(p, 'msgId'), queueId = pairField(p, 'queueId'); // pairValue's, field by field
    if (typeof msgId !== 'string' || typeof queueId !== 'string') continue;
    const h: Held = { pair: p, who: selfOf(s), queueId, msgId, start: s.index, done: p.complete.index, end: Infinity };
    held.push(h);
    byStart.set(p.complete.index, h);
  }
  // One pass in history order: slot numbers, and ACKs matched to the latest open GET of the message.
  for (const op of history) {
    if (op.proc !== 'app' && op.proc !== 'nse') continue; // DEVICE_PROCS
    const h = byStart.get(op.index);
    const acquired = isSlotAcquired(op);
    const ackDone = h === undefined && isAckDone(op);
    if (h === undefined && !acquired && !ackDone) continue;
    const inst = `${op.proc}#${op.pid ?? ''}`;
    const q = typeof op.value?.queueId === 'string' ? (op.value.queueId as string) : undefined;
    if (acquired && q !== undefined && op.value?.slot !== undefined) lastSlot.set(`${inst}\u0000${q}`, op.value.slot as number | string);
    if (h) {
      const sk = `${inst}\u0000${h.queueId}`;
      // The slot is taken before the GET's invoke; the completion is when we know it returned M.
      if (lastSlot.has(sk)) h.slot = lastSlot.get(sk)!;
      const k = key(h.who, h.queueId, h.msgId);
      const l = getsOf.get(k);
      if (l) l.push(h);
      else getsOf.set(k, [h]);
      continue;
    }
    if (ackDone && q !== undefined && typeof op.value?.msgId === 'string') {
      const l = getsOf.get(`${inst}\u0000${q}\u0000${op.value.msgId as string}`);
      if (l) for (let i = l.length - 1; i >= 0; i--) if (l[i]!.ack === undefined) {
        l[i]!.ack = op.index;
        break;
      }
    }
  }
  for (const h of held) {
    const rel = releaseOf(history, h);
    if (rel) {
      h.end = rel.index;
      h.endOp = rel.index;
    }
  }
  return held;
}

/** First op by which the GET's instance let go of its message (see holdsOf). */
/** The op names the held GET's queue and slot (or leaves either out). */
function ofSlot(op: Op, h: Held): boolean {
  return (op.value?.queueId ?? h.queueId) === h.queueId && (h.slot === undefined || op.value?.slot === undefined || op.value.slot === h.slot);
}

function releaseOf(history: readonly Op[], h: Held): Op | undefined {
  const stopAt = h.ack ?? history.length;
  const { proc, pid } = h.who;
  for (let i = h.start + 1; i < history.length; i++) {
    const op = history[i]!;
    // Frozen (a `freeze` step, a budget, or 0xdead10cc → kill) or ended: a GET that can no longer
    // ACK is abandoned; the relay cannot know, so re-serving M to a live GET is not a race.
    if ((isEnd(op) || (op.f === 'freeze' && happened(op))) && sameProc(targetOf(op), h.who)) return op;
    if (i === stopAt) return op; // its own ACK completed
    // Not this instance (sameProc(selfOf(op), h.who), inline: it is asked for every later op).
    if (op.proc !== proc || (pid !== undefined && op.pid !== undefined && op.pid !== pid)) continue;
    // Given up while its GET was still on the wire (a forced suspension): the late reply is refused.
    if (h.ack === undefined && h.slot !== undefined && isSlotExpired(op) && ofSlot(op, h)) return op;
    if (i <= h.done) continue;
    // Suspended (drained, gates closed): it runs no GET until reactivated and its pending ACK of a
    // message it already stored is idempotent, so the relay re-serving it to the app is not a race.
    if (op.f === 'phase' && happened(op) && (op.value?.phase ?? op.phase) === 'suspended') return op;
    // A release without ACK: only for a GET its instance never ACKs (see holdsOf).
    if (h.ack === undefined && (isSlotReleased(op) || isSlotExpired(op)) && ofSlot(op, h)) return op;
  }
  return undefined;
}

/**
 * Invariant 5 — GET isolation. A GET that returned message M on queue Q
 * "holds" M from its invoke until its process lets go, derived from the GET
 * and ACK operations (holdsOf): its own ACK of M completes (ok or fail); for a
 * GET its instance never ACKs, the coordinator gave its slot up
 * (`queue.slot.released`, `done` or `expired`); it reports phase `suspended`;
 * it is frozen (from the GET's invoke on); it ends (kill, exit, jetsam, the
 * 0xdead10cc kill). Releases are per instance: a relaunch has a new pid.
 * Another GET (any process) that returns M on Q and was invoked before that
 * release is a violation. A GET invoked after a release without ACK may
 * legitimately see M again (the relay re-serves un-ACKed messages).
 */
export const checkGetIsolation: Checker = (history) => {
  const held = holdsOf(history);
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
