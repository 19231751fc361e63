import type { History, Op } from './types.js';

/** An operation: its invoke and (if it finished) its completion. */
export interface OpPair {
  invoke?: Op;
  /** The ok/fail/info completing the invoke; or a lone ok/info/fail never invoked. */
  complete?: Op;
}

/**
 * Open invokes by proc, pid, f and ref — nested maps rather than one joined string key:
 * pairing runs for every op of every checked history, and a joined key is a fresh string
 * to build and hash each time. Same identity as the joined key `proc|pid ?? ''|f|ref ?? ''`.
 */
type OpenByRef = Map<string, OpPair[]>;
type OpenByPid = Map<number | string, OpenByRef>;
type OpenByProc = Map<string, OpenByPid>;

function refKey(ref: string | number | undefined): string {
  return ref === undefined || ref === null ? '' : typeof ref === 'string' ? ref : String(ref);
}

function openList(open: Map<string, OpenByProc>, op: Op, create: boolean): OpPair[] | undefined {
  let byProc = open.get(op.f);
  if (!byProc) {
    if (!create) return undefined;
    open.set(op.f, (byProc = new Map()));
  }
  let byPid = byProc.get(op.proc);
  if (!byPid) {
    if (!create) return undefined;
    byProc.set(op.proc, (byPid = new Map()));
  }
  const pid = op.pid ?? '';
  let byRef = byPid.get(pid);
  if (!byRef) {
    if (!create) return undefined;
    byPid.set(pid, (byRef = new Map()));
  }
  const ref = refKey(op.ref);
  let q = byRef.get(ref);
  if (!q && create) byRef.set(ref, (q = []));
  return q;
}

/** A completion can't belong to an invoke naming a different queue or message. */
function compatible(invoke: Op, done: Op): boolean {
  const a = invoke.value, b = done.value;
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object') return true;
  const qa = a.queueId, qb = b.queueId;
  if (typeof qa === 'string' && typeof qb === 'string' && qa !== qb) return false;
  const ma = a.msgId, mb = b.msgId;
  if (typeof ma === 'string' && typeof mb === 'string' && ma !== mb) return false;
  return true;
}

/**
 * One pairing per history while `withPairsMemo` runs (checkAll: two checkers pair the same
 * history). The pairs are shared then: callers read them and never change them.
 */
let memo: { history: History; pairs: OpPair[] | null } | null = null;

/** Runs `fn` with pairOps(history) computed at most once (synchronous: the history cannot grow meanwhile). */
export function withPairsMemo<T>(history: History, fn: () => T): T {
  const prev = memo;
  memo = { history, pairs: null };
  try {
    return fn();
  } finally {
    memo = prev;
  }
}

/**
 * Pairs each invoke with its completion: the next ok/fail/info with the same
 * proc, pid, f and ref: the oldest open one whose `value.queueId`/`value.msgId`
 * do not contradict the completion's (so concurrent GETs on different queues
 * pair correctly without a `ref`; concurrent ops on the same queue need one).
 * Completions with no open invoke become pairs without an invoke (single-op
 * records such as `info` events); invokes never completed have no `complete`
 * (the process died or the run ended: outcome indeterminate).
 * Returned in order of the pair's first op. Read-only for the caller (see withPairsMemo).
 */
export function pairOps(history: History): OpPair[] {
  if (memo !== null && memo.history === history) return (memo.pairs ??= pair(history));
  return pair(history);
}

function pair(history: History): OpPair[] {
  const open = new Map<string, OpenByProc>();
  const pairs: OpPair[] = [];
  for (const op of history) {
    if (op.type === 'invoke') {
      const p: OpPair = { invoke: op };
      pairs.push(p);
      openList(open, op, true)!.push(p);
      continue;
    }
    const q = openList(open, op, false);
    let i = -1;
    if (q) for (let k = 0; k < q.length; k++) if (compatible(q[k]!.invoke!, op)) { i = k; break; }
    if (i >= 0) (i === 0 ? q!.shift()! : q!.splice(i, 1)[0]!).complete = op;
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
  return { ...asObject(p.invoke?.value), ...asObject(p.complete?.value) };
}
/** One field of pairValue(p), without building the merged object. */
export function pairField(p: OpPair, key: string): any {
  const b = asObject(p.complete?.value);
  if (Object.hasOwn(b, key)) return b[key];
  const a = asObject(p.invoke?.value);
  return Object.hasOwn(a, key) ? a[key] : undefined;
}
const asObject = (v: unknown): Record<string, any> => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, any>) : {});

/** Reads `value.msgId` (or a string value) from an op. */
export function msgIdOf(op: Op | undefined): string | undefined {
  const v = op?.value;
  if (typeof v === 'string') return undefined;
  const id = v?.msgId;
  return typeof id === 'string' ? id : undefined;
}
