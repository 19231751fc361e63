import type { History, Op } from '../history/types.js';
import type { FinalState } from './types.js';

/** Processes on the simulated device: the ones with phases, gates and the lock. */
export const DEVICE_PROCS = ['app', 'nse'] as const;

/** Identity of a process instance. A relaunched NSE is a new instance (new pid). */
export interface ProcRef {
  proc: string;
  pid?: number;
}

/**
 * Who an orchestrator action (freeze/thaw/kill/…) targets: `value.proc`/`value.pid`
 * when the orchestrator recorded it, else the op's own proc/pid.
 */
export function targetOf(op: Op): ProcRef {
  const v = op.value && typeof op.value === 'object' ? (op.value as Record<string, unknown>) : {};
  const proc = typeof v.proc === 'string' ? v.proc : op.proc;
  const pid = typeof v.pid === 'number' ? v.pid : op.proc === 'orchestrator' ? undefined : op.pid;
  return pid === undefined ? { proc } : { proc, pid };
}

/** The instance that did the op itself. */
export function selfOf(op: Op): ProcRef {
  return op.pid === undefined ? { proc: op.proc } : { proc: op.proc, pid: op.pid };
}

/** Same process instance? A missing pid on either side matches any pid of that proc. */
export function sameProc(a: ProcRef, b: ProcRef): boolean {
  return a.proc === b.proc && (a.pid === undefined || b.pid === undefined || a.pid === b.pid);
}

/** True for an op that happened (an orchestrator action or event that took effect). */
export function happened(op: Op): boolean {
  return op.type === 'ok' || op.type === 'info';
}

/** Ops that end a process instance: the kernel drops its flocks and its tx. */
export const END_FS = ['kill', 'exit', 'jetsam'];
export function isEnd(op: Op): boolean {
  const f = op.f;
  return (f === 'kill' || f === 'exit' || f === 'jetsam') && happened(op); // END_FS, spelled out: called for every op
}

export interface ResolvedFinal {
  store?: { msgIds: string[]; op?: number; quarantine?: string[] };
  inbox?: { msgIds: string[]; op?: number };
  relayDeleted: { msgId: string; op?: number }[];
  relayQueued?: { queueId: string; msgId: string }[];
  convergenceMs?: number;
}

function ids(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

/** Explicit final state first; otherwise the last snapshot op of each kind. */
export function resolveFinal(history: History, final: FinalState = {}): ResolvedFinal {
  const r: ResolvedFinal = { relayDeleted: [] };
  if (final.store) r.store = { msgIds: final.store.msgIds };
  if (final.inbox) r.inbox = { msgIds: final.inbox.msgIds };
  if (final.convergenceMs !== undefined) r.convergenceMs = final.convergenceMs;
  for (const id of final.relay?.deleted ?? []) r.relayDeleted.push({ msgId: id });
  if (final.relay?.queued) r.relayQueued = final.relay.queued;
  for (let i = history.length - 1; i >= 0; i--) {
    const op = history[i]!;
    const f = op.f;
    if ((f !== 'store.snapshot' && f !== 'inbox.snapshot' && f !== 'relay.snapshot') || !happened(op)) continue;
    const v = (op.value ?? {}) as Record<string, unknown>;
    if (op.f === 'store.snapshot' && !r.store && ids(v.msgIds)) {
      r.store = { msgIds: ids(v.msgIds)!, op: op.index, ...(ids(v.quarantine) ? { quarantine: ids(v.quarantine)! } : {}) };
      const inbox = v.inbox as Record<string, unknown> | undefined;
      if (!r.inbox && inbox && ids(inbox.msgIds)) r.inbox = { msgIds: ids(inbox.msgIds)!, op: op.index };
    } else if (op.f === 'inbox.snapshot' && !r.inbox && ids(v.msgIds)) {
      r.inbox = { msgIds: ids(v.msgIds)!, op: op.index };
    } else if (op.f === 'relay.snapshot' && final.relay === undefined && r.relayQueued === undefined) {
      for (const id of ids(v.deleted) ?? []) r.relayDeleted.push({ msgId: id, op: op.index });
      if (Array.isArray(v.queued)) r.relayQueued = v.queued as { queueId: string; msgId: string }[];
      else r.relayQueued = [];
    }
  }
  return r;
}

export function countBy<T>(xs: readonly T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}
