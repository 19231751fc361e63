import { pairOps, type OpPair } from '../history/pairs.js';
import type { History, Op } from '../history/types.js';
import { isDbOp, isNetworkOp } from '../checkers/gates.js';
import { END_FS, targetOf } from '../checkers/common.js';
import type { Verdict } from '../checkers/types.js';

/** Sub-tracks of a process, top to bottom. */
export const LANES = ['phase', 'lock', 'tx', 'net', 'db', 'ops'] as const;
export type Lane = (typeof LANES)[number];

export interface Span {
  proc: string;
  pid?: number;
  lane: Lane;
  name: string;
  /** ms since run start. */
  start: number;
  end: number;
  /** Never closed: ran to the end of the run (or of its process). */
  open: boolean;
  /** Sub-row within its proc+lane so that spans on one row never overlap (0 = first). */
  row: number;
  status: 'ok' | 'fail' | 'info' | 'pending' | 'span';
  ops: number[];
  msgId?: string;
  value?: unknown;
  error?: string;
}

export interface Mark {
  proc: string;
  pid?: number;
  kind: 'freeze' | 'thaw' | 'kill' | 'violation';
  name: string;
  t: number;
  op?: number;
  detail?: string;
}

export interface FlowPoint {
  span: Span;
  t: number;
}
export interface Flow {
  msgId: string;
  points: FlowPoint[];
}

export interface Timeline {
  /** Process names in display order. */
  procs: string[];
  spans: Span[];
  marks: Mark[];
  flows: Flow[];
  tEnd: number;
}

const PROC_ORDER = ['orchestrator', 'sender', 'relay', 'app', 'nse'];
const MARK_FS: Record<string, Mark['kind']> = { freeze: 'freeze', thaw: 'thaw', kill: 'kill', jetsam: 'kill', exit: 'kill' };
const SPAN_FS = new Set(['phase', 'lock.acquire', 'lock.release', 'db.tx.begin', 'db.tx.commit', 'db.tx.rollback']);
const FLOW_FS = new Set(['send', 'get', 'db.write', 'ack', 'notify', 'inbox.append', 'inbox.write', 'inbox.import']);

function laneOf(f: string): Lane {
  if (isNetworkOp(f)) return 'net';
  if (isDbOp(f) || f.startsWith('inbox.')) return 'db';
  return 'ops';
}
const inst = (op: Op) => `${op.proc}#${op.pid ?? ''}`;
function msgIdIn(p: OpPair): string | undefined {
  const v = { ...(p.invoke?.value ?? {}), ...(p.complete?.value ?? {}) } as Record<string, unknown>;
  return typeof v.msgId === 'string' ? v.msgId : undefined;
}

/** Turns a history into spans, marks and message flows (shared by the trace and HTML reports). */
export function buildTimeline(full: History, verdicts: readonly Verdict[] = []): Timeline {
  const history = byDevice(full);
  const tEnd = history.reduce((m, op) => Math.max(m, op.time), 0);
  const spans: Span[] = [];
  const marks: Mark[] = [];
  // When each process instance ended (kill etc.): its open spans close there.
  const endOf = new Map<string, number>();
  for (const op of history) {
    if (END_FS.includes(op.f) && op.type !== 'invoke' && op.type !== 'fail') {
      const t = targetOf(op);
      for (const o of history) {
        if (o.index >= op.index) break;
        if (o.proc === t.proc && (t.pid === undefined || o.pid === t.pid) && !endOf.has(inst(o))) endOf.set(inst(o), op.time);
      }
    }
  }
  const closeAt = (op: Op) => endOf.get(inst(op)) ?? tEnd;

  // Phases, lock holds, transactions: spans from state-change ops.
  const phase = new Map<string, Span>();
  const lock = new Map<string, Span>();
  const tx = new Map<string, Span>();
  const close = (m: Map<string, Span>, key: string, op: Op) => {
    const s = m.get(key);
    if (!s) return;
    s.end = op.time;
    s.open = false;
    s.ops.push(op.index);
    m.delete(key);
  };
  const open = (m: Map<string, Span>, op: Op, lane: Lane, name: string) => {
    const s: Span = { proc: op.proc, pid: op.pid, lane, name, start: op.time, end: closeAt(op), open: true, row: 0, status: 'span', ops: [op.index] };
    m.set(inst(op), s);
    spans.push(s);
  };
  for (const op of history) {
    const done = op.type === 'ok' || op.type === 'info';
    if (op.f === 'phase' && done && op.proc !== 'orchestrator') {
      const p = typeof op.value === 'string' ? op.value : op.value?.phase;
      if (typeof p !== 'string') continue;
      close(phase, inst(op), op);
      open(phase, op, 'phase', p);
    } else if (op.f === 'lock.acquire' && op.type === 'ok') open(lock, op, 'lock', 'lock held');
    else if (op.f === 'lock.release' && op.type === 'ok') close(lock, inst(op), op);
    else if (op.f === 'db.tx.begin' && op.type === 'ok') open(tx, op, 'tx', 'write tx');
    else if ((op.f === 'db.tx.commit' || op.f === 'db.tx.rollback') && op.type !== 'invoke') {
      const s = tx.get(inst(op));
      if (s) s.name = op.f === 'db.tx.commit' && op.type === 'ok' ? 'write tx' : 'write tx (rolled back)';
      close(tx, inst(op), op);
    }
  }
  // Spans still in the maps were never closed by their own op (ran to the end, or the process died).

  // Every other operation: invoke→completion spans; orchestrator actions become marks.
  for (const p of pairOps(history)) {
    const first = (p.invoke ?? p.complete)!;
    const last = p.complete;
    if (MARK_FS[first.f] || first.f === 'lock.held-at-freeze') {
      if (last && (last.type === 'ok' || last.type === 'info')) {
        const t = targetOf(last);
        const kind = MARK_FS[first.f] ?? 'violation';
        // The kernel's lock check at freeze is evidence for no-dead10cc: the mark carries the invariant's name (docs/invariants.md).
        const name = kind === 'violation' ? 'no-dead10cc' : first.f;
        marks.push({ proc: t.proc, pid: t.pid, kind, name, t: last.time, op: last.index, ...(kind === 'violation' ? { detail: `kernel check (${first.f}): ${t.proc} held the lock when frozen` } : {}) });
      }
      continue;
    }
    if (SPAN_FS.has(first.f) && !(first.f === 'lock.acquire' && p.invoke)) continue;
    const waitLock = first.f === 'lock.acquire';
    spans.push({
      proc: first.proc,
      pid: first.pid,
      lane: waitLock ? 'lock' : laneOf(first.f),
      name: waitLock ? 'wait lock' : first.f,
      start: first.time,
      end: last ? last.time : closeAt(first),
      open: !last,
      row: 0,
      status: last ? (last.type as Span['status']) : 'pending',
      ops: last && last !== first ? [first.index, last.index] : [first.index],
      msgId: msgIdIn(p),
      value: (last ?? first).value,
      error: last?.error,
    });
  }

  for (const v of verdicts) {
    for (const vio of v.violations) {
      const at = history[vio.ops[vio.ops.length - 1] ?? -1];
      if (!at) continue;
      const t = at.proc === 'orchestrator' ? targetOf(at) : { proc: at.proc, pid: at.pid };
      // One mark per invariant and op: the checker's detail replaces the kernel check's.
      const same = marks.find((m) => m.kind === 'violation' && m.name === v.invariant && m.op === at.index);
      if (same) same.detail = vio.detail;
      else marks.push({ proc: t.proc, pid: t.pid, kind: 'violation', name: v.invariant, t: at.time, op: at.index, detail: vio.detail });
    }
  }

  const byMsg = new Map<string, FlowPoint[]>();
  for (const s of spans) {
    if (!s.msgId || !FLOW_FS.has(s.name) || s.status === 'fail') continue;
    if (s.name === 'send' && s.proc !== 'sender') continue;
    byMsg.set(s.msgId, [...(byMsg.get(s.msgId) ?? []), { span: s, t: s.start }]);
  }
  const flows: Flow[] = [];
  for (const [msgId, points] of byMsg) {
    if (points.length < 2) continue;
    points.sort((a, b) => a.t - b.t || a.span.ops[0]! - b.span.ops[0]!);
    flows.push({ msgId, points });
  }

  const seen = [...new Set([...history.map((o) => o.proc), ...marks.map((m) => m.proc)])];
  const rank = (p: string) => (PROC_ORDER.includes(p) ? PROC_ORDER.indexOf(p) : PROC_ORDER.length);
  const procs = seen.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  spans.sort((a, b) => a.start - b.start || a.ops[0]! - b.ops[0]!);
  assignRows(spans);
  return { procs, spans, marks, flows, tEnd };
}

/**
 * Greedy interval partitioning per proc+lane: a span goes on the first row
 * whose last span has ended, so concurrent ops (two GETs in flight, two
 * senders) sit on separate rows and trace viewers see properly nested slices.
 * Expects spans sorted by start.
 */
function assignRows(spans: Span[]): void {
  const ends = new Map<string, number[]>();
  for (const s of spans) {
    const key = `${s.proc}\u0000${s.lane}`;
    const rows = ends.get(key) ?? [];
    let r = rows.findIndex((end) => end <= s.start);
    if (r < 0) r = rows.length;
    rows[r] = Math.max(s.end, s.start);
    ends.set(key, rows);
    s.row = r;
  }
}

/**
 * Two devices (docs/scenarios.md "A second device"): device 2's processes get lanes of their own,
 * `app@2` and `nse@2` — its process ops, and the orchestrator's actions on them (freeze, kill …).
 * Indices are unchanged, so links to ops still hold.
 */
function byDevice(history: History): History {
  if (!history.some((o) => o.device !== undefined && o.device > 1)) return history;
  const named = (p: unknown, d: number) => (p === 'app' || p === 'nse' ? `${p}@${d}` : p);
  return history.map((o) => {
    if (o.device === undefined || o.device < 2) return o;
    if (o.proc === 'app' || o.proc === 'nse') return { ...o, proc: `${o.proc}@${o.device}` };
    const v = o.value as { proc?: unknown } | undefined;
    if (o.proc === 'orchestrator' && v && typeof v === 'object' && (v.proc === 'app' || v.proc === 'nse')) return { ...o, value: { ...v, proc: named(v.proc, o.device) } };
    return o;
  });
}
