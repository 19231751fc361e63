import { pairField, pairOps, startOf } from '../history/pairs.js';
import { happened, isEnd, sameProc, selfOf, targetOf, type ProcRef } from './common.js';
import { verdict, type Checker, type Op, type Violation } from './types.js';

/** The NSE's extra GETs per notification when the run does not say (src/core/session/nse/nse.ts, config `nseMaxExtraGets`). */
export const DEFAULT_NSE_MAX_EXTRA_GETS = 3;

/** A session event as either host records it: `push-start` (fast mode) or `ev.push-start` (real observer). */
export function isEvent(op: Op, name: string): boolean {
  const f = op.f;
  // f === name or f === `ev.${name}`, without building the second string for every op.
  return f === name || (f.length === name.length + 3 && f.startsWith('ev.') && f.endsWith(name));
}

/** The extra-GET cap from the run's `run` op (`nseMaxExtraGets`, or inside `config`/`procConfig`), else the default. */
export function extraGetCap(history: readonly Op[]): number {
  for (const op of history) {
    if (op.f !== 'run' || op.proc !== 'orchestrator') continue;
    const v = (op.value ?? {}) as Record<string, any>;
    for (const c of [v.nseMaxExtraGets, v.config?.nseMaxExtraGets, v.procConfig?.nseMaxExtraGets]) {
      if (typeof c === 'number' && Number.isInteger(c) && c >= 0) return c;
    }
  }
  return DEFAULT_NSE_MAX_EXTRA_GETS;
}

interface Push {
  pushId: string;
  refs: number;
  start: number;
  end: number;
}

/**
 * Invariant 9 — bounded work per push. The NSE runs on a budget of seconds and a few MB;
 * each push may cost it at most one GET plus the extra-GET cap per notification it carries,
 * and an NSE whose budget expired starts no GET until iOS hands it a new push.
 *
 * Per NSE instance (proc `nse` + pid), from its `push-start` / `push-done` events (fast mode
 * records them under those names, the real observer as `ev.push-start` / `ev.push-done`;
 * `value.pushId`, `value.refs` = the notifications in the push, default 1):
 *
 * (a) GETs are counted per **busy period** — a maximal stretch during which at least one of
 *     the instance's pushes has started and not finished (a push with no `push-done` lasts
 *     until the instance ends, or to the end of the history). Pushes in flight at once share
 *     the per-queue slot, so their GETs cannot be told apart: the period's bound is the sum
 *     over its pushes of `refs × (1 + cap)`. Counted: `get` ok that returned a message
 *     (`value.msgId` not null). A GET that returned a message outside every push is
 *     reported too: the NSE fetches only for a push (not checked when the history records
 *     no push events at all).
 * (b) After the instance reported its budget expired — a `notify.placeholder` (best-attempt
 *     content, emitted by the expiry path before it suspends) — no `get` may start (invoke,
 *     or a lone completion) until the instance's next `push-start`.
 *
 * The cap is `nseMaxExtraGets` from the run's `run` op if recorded, else 3.
 */
export const checkBoundedWork: Checker = (history) => {
  const cap = extraGetCap(history);
  const violations: Violation[] = [];
  const notes: string[] = [];
  // Pushes per NSE instance.
  const pushes = new Map<string, { who: ProcRef; list: Push[]; open: Map<string, Push[]> }>();
  const inst = (op: Op) => {
    const who = selfOf(op);
    const k = `${who.proc}#${who.pid ?? ''}`;
    let x = pushes.get(k);
    if (!x) pushes.set(k, (x = { who, list: [], open: new Map() }));
    return x;
  };
  for (const op of history) {
    if (isEnd(op)) {
      const t = targetOf(op);
      for (const x of pushes.values()) {
        if (!sameProc(x.who, t)) continue;
        for (const l of x.open.values()) for (const p of l) if (p.end === Infinity) p.end = op.index;
        x.open.clear();
      }
      continue;
    }
    if (op.proc !== 'nse' || !happened(op)) continue;
    if (isEvent(op, 'push-start')) {
      const x = inst(op);
      const pushId = String(op.value?.pushId ?? `#${op.index}`);
      const refs = typeof op.value?.refs === 'number' && op.value.refs >= 0 ? op.value.refs : 1;
      const p: Push = { pushId, refs, start: op.index, end: Infinity };
      x.list.push(p);
      const l = x.open.get(pushId);
      if (l) l.push(p);
      else x.open.set(pushId, [p]);
    } else if (isEvent(op, 'push-done')) {
      const x = inst(op);
      const l = x.open.get(String(op.value?.pushId ?? ''));
      const p = l?.shift();
      if (p) p.end = op.index;
    }
  }

  // GETs by NSE instances: start (invoke or lone completion) and whether they returned a message.
  const gets: { who: ProcRef; start: number; done: number | undefined; msg: boolean; msgId: string | undefined }[] = [];
  for (const p of pairOps(history)) {
    const s = startOf(p);
    if (s.proc !== 'nse' || s.f !== 'get') continue;
    const msgId = pairField(p, 'msgId'); // pairValue(p).msgId
    const msg = p.complete?.type === 'ok' && typeof msgId === 'string';
    gets.push({ who: selfOf(s), start: s.index, done: p.complete ? p.complete.index : undefined, msg, msgId: msg ? (msgId as string) : undefined });
  }

  // (a) busy periods per instance.
  for (const x of pushes.values()) {
    const sorted = [...x.list].sort((a, b) => a.start - b.start);
    const periods: { from: number; to: number; bound: number; pushes: Push[] }[] = [];
    for (const p of sorted) {
      const cur = periods[periods.length - 1];
      if (cur && p.start < cur.to) {
        cur.to = Math.max(cur.to, p.end);
        cur.bound += p.refs * (1 + cap);
        cur.pushes.push(p);
      } else periods.push({ from: p.start, to: p.end, bound: p.refs * (1 + cap), pushes: [p] });
    }
    for (const per of periods) {
      const got = gets.filter((g) => g.msg && sameProc(g.who, x.who) && g.start > per.from && g.start < per.to);
      if (got.length > per.bound) {
        const ids = per.pushes.map((p) => p.pushId).join(', ');
        violations.push({
          detail: `nse fetched ${got.length} messages for ${per.pushes.length} push(es) (${ids}) in flight together; bound ${per.bound} (${per.pushes.reduce((n, p) => n + p.refs, 0)} notification(s) × (1 + ${cap} extra GETs))`,
          ops: [per.from, ...got.map((g) => g.done ?? g.start)],
          proc: 'nse',
        });
      }
    }
  }
  // Histories that record no push events at all (hand-built ones, hosts that do not report them) say nothing here.
  const recordsPushes = pushes.size > 0;
  if (!recordsPushes && gets.some((g) => g.msg)) notes.push('no push-start events recorded: GETs not attributed to pushes');
  for (const g of gets) {
    if (!g.msg || !recordsPushes) continue;
    const x = pushes.get(`${g.who.proc}#${g.who.pid ?? ''}`);
    const inside = x?.list.some((p) => g.start > p.start && g.start < p.end);
    if (!inside) {
      violations.push({ detail: `nse GET (op ${g.start}) returned ${g.msgId} outside any push`, ops: [g.start, ...(g.done !== undefined ? [g.done] : [])], proc: 'nse' });
    }
  }

  // (b) no GET starts after the instance's expiry until its next push.
  const expired = new Map<string, number>();
  const invoked = new Set(gets.filter((g) => g.done !== undefined && g.done !== g.start).map((g) => g.done!));
  for (const op of history) {
    if (op.proc !== 'nse' || (op.f !== 'get' && op.f !== 'notify.placeholder' && op.f !== 'ev.notify.placeholder' && !isEvent(op, 'push-start'))) continue;
    const k = `nse#${op.pid ?? ''}`;
    if (op.f === 'notify.placeholder' || op.f === 'ev.notify.placeholder') {
      if (happened(op) && !expired.has(k)) expired.set(k, op.index);
    } else if (isEvent(op, 'push-start') && happened(op)) expired.delete(k);
    else if (op.f === 'get' && expired.has(k)) {
      const isStart = op.type === 'invoke' || !invoked.has(op.index);
      if (isStart) {
        violations.push({ detail: `nse started a GET after its budget expired (best-attempt content at op ${expired.get(k)}) and before its next push`, ops: [expired.get(k)!, op.index], proc: 'nse' });
        expired.delete(k); // one report per expiry
      }
    }
  }
  if (cap !== DEFAULT_NSE_MAX_EXTRA_GETS) notes.push(`extra-GET cap ${cap} (from the run op)`);
  violations.sort((a, b) => a.ops[0]! - b.ops[0]!);
  return verdict('bounded-work', violations, notes);
};
