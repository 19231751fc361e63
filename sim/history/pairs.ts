import type { History, Op } from './types.js';

/** An operation: its invoke and (if it finished) its completion. */
export interface OpPair {
  invoke?: Op;
  /** The ok/fail/info completing the invoke; or a lone ok/info/fail never invoked. */
  complete?: Op;
}

function pairKey(op: Op): string {
  return `${op.proc}\u0000${op.pid ?? ''}\u0000${op.f}\u0000${op.ref ?? ''}`;
}

/** A completion can't belong to an invoke naming a different queue or message. */
function compatible(invoke: Op, done: Op): boolean {
  const a = invoke.value, b = done.value;
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object') return true;
  for (const k of ['queueId', 'msgId']) {
    if (typeof a[k] === 'string' && typeof b[k] === 'string' && a[k] !== b[k]) return false;
  }
  return true;
}

/**
 * Pairs each invoke with its completion: the next ok/fail/info with the same
 * proc, pid, f and ref: the oldest open one whose `value.queueId`/`value.msgId`
 * do not contradict the completion's (so concurrent GETs on different queues
 * pair correctly without a `ref`; concurrent ops on the same queue need one).
 * Completions with no open invoke become pairs without an invoke (single-op
 * records such as `info` events); invokes never completed have no `complete`
 * (the process died or the run ended: outcome indeterminate).
 * Returned in order of the pair's first op.
 */
export function pairOps(history: History): OpPair[] {
  const open = new Map<string, OpPair[]>();
  const pairs: OpPair[] = [];
  for (const op of history) {
    const key = pairKey(op);
    if (op.type === 'invoke') {
      const p: OpPair = { invoke: op };
      pairs.push(p);
      const q = open.get(key);
      if (q) q.push(p);
      else open.set(key, [p]);
      continue;
    }
    const q = open.get(key);
    const i = q ? q.findIndex((c) => compatible(c.invoke!, op)) : -1;
    if (q && i >= 0) q.splice(i, 1)[0]!.complete = op;
    else pairs.push({ complete: op });
  }
  return pairs;
}

/** The op that marks when a pair started (its invoke, else its lone completion). */
export function startOf(p: OpPair): Op {
  return (p.invoke ?? p.complete)!;
}

/** Value of the pair: the completion's value merged over the invoke's. */
export function pairValue(p: OpPair): Record<string, any> {
  const a = p.invoke?.value;
  const b = p.complete?.value;
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : {});
  return { ...obj(a), ...obj(b) };
}

/** Reads `value.msgId` (or a string value) from an op. */
export function msgIdOf(op: Op | undefined): string | undefined {
  const v = op?.value;
  if (typeof v === 'string') return undefined;
  const id = v?.msgId;
  return typeof id === 'string' ? id : undefined;
}
