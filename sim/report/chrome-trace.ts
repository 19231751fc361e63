import type { History } from '../history/types.js';
import type { Verdict } from '../checkers/types.js';
import { buildTimeline, LANES, type Lane, type Span } from './timeline.js';

/** One Chrome Trace Event (the JSON format Perfetto and chrome://tracing load). */
export interface TraceEvent {
  name: string;
  ph: 'X' | 'i' | 's' | 't' | 'f' | 'M';
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  id?: number;
  bp?: 'e';
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}
export interface ChromeTrace {
  traceEvents: TraceEvent[];
  displayTimeUnit: 'ms';
}

const US = 1000; // history is in ms (µs resolution in real runs, sim/history/recorder.ts), traces in integer µs
const us = (ms: number): number => Math.round(ms * US);
const MAX_ARG = 400;

function argValue(v: unknown): unknown {
  if (v === undefined) return undefined;
  const s = JSON.stringify(v);
  return s.length > MAX_ARG ? s.slice(0, MAX_ARG) + '…' : v;
}

/**
 * The history as a Chrome Trace: a process track per proc, and per process
 * instance (OS pid) one thread per lane — phase, lock, tx, net, db, ops — so
 * spans nest. Phases, lock holds, transactions and invoke→completion pairs are
 * 'X' events; freeze/thaw/kill and violations are instants; each message's
 * send → get → db.write → ack → notify is a flow ('s' … 't' … 'f').
 */
export function toChromeTrace(history: History, verdicts: readonly Verdict[] = []): ChromeTrace {
  const tl = buildTimeline(history, verdicts);
  const ev: TraceEvent[] = [];
  const pidOf = new Map(tl.procs.map((p, i) => [p, i + 1]));
  const instances = new Map<string, number[]>(); // proc -> OS pids in order seen (-1 = none)
  const tids = new Map<string, number>();
  const tidOf = (proc: string, ospid: number | undefined, lane: Lane, row = 0): number => {
    const key = `${proc}#${ospid ?? -1}#${lane}#${row}`;
    const known = tids.get(key);
    if (known !== undefined) return known;
    const list = instances.get(proc) ?? [];
    if (!list.includes(ospid ?? -1)) list.push(ospid ?? -1);
    instances.set(proc, list);
    // Sortable and unique: instance, then lane, then row.
    const tid = (list.indexOf(ospid ?? -1) * LANES.length + LANES.indexOf(lane)) * 1000 + row + 1;
    tids.set(key, tid);
    const pid = pidOf.get(proc)!;
    const label = row === 0 ? lane : `${lane} #${row + 1}`;
    ev.push({ name: 'thread_name', ph: 'M', pid, tid, args: { name: ospid === undefined ? label : `${label} (pid ${ospid})` } });
    ev.push({ name: 'thread_sort_index', ph: 'M', pid, tid, args: { sort_index: tid } });
    return tid;
  };
  for (const [proc, pid] of pidOf) {
    ev.push({ name: 'process_name', ph: 'M', pid, tid: 0, args: { name: proc } });
    ev.push({ name: 'process_sort_index', ph: 'M', pid, tid: 0, args: { sort_index: pid } });
  }
  const spanEvent = new Map<Span, TraceEvent>();
  for (const s of tl.spans) {
    const args: Record<string, unknown> = { ops: s.ops, status: s.status };
    if (s.open) args.open = true;
    if (s.value !== undefined) args.value = argValue(s.value);
    if (s.error) args.error = s.error;
    const e: TraceEvent = {
      name: s.name,
      cat: s.lane,
      ph: 'X',
      pid: pidOf.get(s.proc)!,
      tid: tidOf(s.proc, s.pid, s.lane, s.row),
      ts: us(s.start),
      // Zero-length ops get 1 µs so viewers can show and bind flows to them.
      dur: Math.max(1, us(s.end) - us(s.start)),
      args,
    };
    spanEvent.set(s, e);
    ev.push(e);
  }
  for (const m of tl.marks) {
    const pid = pidOf.get(m.proc) ?? pidOf.get('orchestrator') ?? 1;
    ev.push({
      name: m.kind === 'violation' ? `VIOLATION ${m.name}` : m.name,
      cat: m.kind === 'violation' ? 'violation' : 'fault',
      ph: 'i',
      s: m.kind === 'violation' ? 'g' : 'p',
      pid,
      tid: tidOf(m.proc, m.pid, 'ops'),
      ts: us(m.t),
      args: { op: m.op, ...(m.detail ? { detail: m.detail } : {}) },
    });
  }
  tl.flows.forEach((flow, i) => {
    flow.points.forEach((p, j) => {
      const host = spanEvent.get(p.span)!;
      const ph = j === 0 ? 's' : j === flow.points.length - 1 ? 'f' : 't';
      ev.push({ name: `msg ${flow.msgId}`, cat: 'msg', ph, id: i + 1, pid: host.pid, tid: host.tid, ts: host.ts!, ...(ph === 's' ? {} : { bp: 'e' as const }), args: { msgId: flow.msgId, step: p.span.name } });
    });
  });
  return { traceEvents: ev, displayTimeUnit: 'ms' };
}
