import { msgIdOf } from '../history/pairs.js';
import { isEvent } from './bounded-work.js';
import { happened, isEnd, sameProc, selfOf, targetOf, type ProcRef } from './common.js';
import { verdict, type Checker, type Op, type Violation } from './types.js';

/**
 * How long (ms of the history's clock) a message sent to an app in front may take to reach it.
 * Fast mode (virtual ms): the relay's legs take 0–2 ms each and nothing else waits in an
 * unexcused window (measured: every delivery within ~30 ms on seeds 1, 2, 424242), so 500 ms is
 * a wide margin. Real mode (wall-clock ms, processes on a loaded machine): 5 s. Low-power mode
 * adds the poll period (the app learns of a message at its next status poll).
 */
export const LIVE_DELIVERY_MS = { fast: 500, real: 5_000, lowPowerPoll: 1_000 } as const;

/** What the checker reads from the run's `run` op. */
function runInfo(history: readonly Op[]): { fast: boolean; lowPower: boolean; triggers?: (string | null)[] } {
  for (const op of history) {
    if (op.f !== 'run' || op.proc !== 'orchestrator') continue;
    const v = (op.value ?? {}) as Record<string, unknown>;
    return {
      fast: v.mode === 'fast',
      lowPower: v.mode === 'low-power' || v.mode === 'lowPower',
      ...(Array.isArray(v.triggers) ? { triggers: v.triggers as (string | null)[] } : {}),
    };
  }
  return { fast: false, lowPower: false };
}

const DELIVERED_FS = new Set(['db.write', 'notify', 'inbox.append', 'ack', 'inbox.write']);

/** An app op that shows message `id` reached the app: written (store or pending inbox), notified, ACKed. */
function reachedApp(op: Op): string | undefined {
  if (op.proc !== 'app' || !DELIVERED_FS.has(op.f) || op.type === 'fail') return undefined;
  if (op.f !== 'inbox.append' && op.type === 'invoke') return undefined;
  return msgIdOf(op);
}

interface Hold {
  from: number;
  to: number;
}

/**
 * When a scenario step holds the app (a trigger at one of the app's failpoints keeps it there
 * until the step's turn; `pause` until `resume`), as index intervals. The held process is the
 * step op's `pid` (real mode), or the run op's `triggers[i]` (fast mode records each step's
 * trigger process there); when neither says, the app is assumed held (conservative: an excuse).
 * The hold starts at the app's first hit of that failpoint after the previous step on the same
 * failpoint completed (or after the app's first `wake`, when the steps are armed).
 */
function appHolds(history: readonly Op[], triggers: (string | null)[] | undefined): Hold[] {
  const holds: Hold[] = [];
  const pidProc = new Map<number, string>();
  for (const op of history) if (op.pid !== undefined && !pidProc.has(op.pid)) pidProc.set(op.pid, op.proc);
  const firstWake = history.find((o) => o.proc === 'app' && isEvent(o, 'wake'))?.index ?? 0;
  const chainFrom = new Map<string, number>();
  for (const op of history) {
    if (op.proc !== 'orchestrator' || op.f !== 'step' || op.type !== 'invoke' || typeof op.value?.at !== 'string') continue;
    const at = op.value.at as string;
    const i = op.value.i as number | undefined;
    const pid = typeof op.value.pid === 'number' ? op.value.pid : undefined;
    const who = pid !== undefined ? pidProc.get(pid) : i !== undefined ? triggers?.[i] : undefined;
    const from0 = chainFrom.get(at) ?? firstWake;
    // End: the step's completion (the held path is let go after the verb); a pause: the app's resume.
    let to = history.length;
    for (let j = op.index + 1; j < history.length; j++) {
      const o = history[j]!;
      if (o.proc !== 'orchestrator') continue;
      if (op.value.do === 'pause') {
        if ((o.f === 'step' && o.type === 'invoke' && o.value?.do === 'resume' && o.value?.proc === 'app') || (o.f === 'heal' && o.value?.final)) {
          to = j;
          break;
        }
      } else if (o.f === 'step' && o.type !== 'invoke' && o.value?.i === i) {
        to = j;
        break;
      }
    }
    chainFrom.set(at, to);
    if (who !== undefined && who !== null && who !== 'app') continue;
    let from = op.index;
    const fpColon = `fp:${at}`, fpDot = `fp.${at}`;
    for (let j = from0; j < op.index; j++) {
      const o = history[j]!;
      if (o.proc === 'app' && (o.fp === at || o.f === fpColon || o.f === fpDot) && (pid === undefined || o.pid === pid)) {
        from = j;
        break;
      }
    }
    holds.push({ from, to });
  }
  // What both engines record when a trigger keeps the app at a failpoint (`harness.hold` …
  // `harness.release`): the authoritative interval, which the step ops above can miss when the
  // hold begins before an earlier step on the same failpoint completed (explore seed 424242 run 18953).
  const open = new Map<string, number>();
  for (const op of history) {
    if (op.proc !== 'app') continue;
    const k = `${op.pid ?? ''}:${String(op.value?.at ?? '')}`;
    if (op.f === 'harness.hold') open.set(k, op.index);
    else if (op.f === 'harness.release' && open.has(k)) {
      holds.push({ from: open.get(k)!, to: op.index });
      open.delete(k);
    }
  }
  for (const from of open.values()) holds.push({ from, to: history.length });
  return holds;
}

/**
 * Invariant 10 — live delivery (liveness). A message sent while the app is in front and
 * connected reaches the app within a bounded time, by live delivery (SUB, or the low-power
 * poll) — not only when the run's final heal brings the app to the front again.
 *
 * **In front** (per app instance): from its `wake` event (`wake` / `ev.wake`: the wake
 * sequence finished — key imported, queues fetched, SUBs or the poll started) until it reports
 * a phase other than `active`, is frozen/killed/expired, the power is cut, the network is
 * partitioned or the relay restarts (from then on it is in front again only at its next `wake`,
 * e.g. the `online` one after reconnecting).
 *
 * **Checked**: every `send` ok by `sender` with a msgId recorded while an app instance is in
 * front. It must **reach the app** — an app `db.write` ok (inserted or duplicate), `inbox.append`
 * (device locked), `notify` ok or `ack` ok of that msgId — within `LIVE_DELIVERY_MS` of the send
 * (fast 500 virtual ms, real 5 000 ms, plus 1 000 ms in low-power mode).
 *
 * **Excused** (the message is not judged) when, between the send and the delivery or deadline:
 * the app leaves the front (any reason above, including a `background` step: the NSE may take
 * the message), the app is held by a scenario step (appHolds: the step's trigger, or a recorded `harness.hold`), the NSE GETs the message,
 * the run's final `heal` (`final: true`) comes before the deadline (too little time to judge), or
 * the user logs out (a logged-out app is in front again only at a wake after its login).
 */
export const checkLiveDelivery: Checker = (history) => {
  const info = runInfo(history);
  const windowMs = (info.fast ? LIVE_DELIVERY_MS.fast : LIVE_DELIVERY_MS.real) + (info.lowPower ? LIVE_DELIVERY_MS.lowPowerPoll : 0);
  const holds = appHolds(history, info.triggers);
  const violations: Violation[] = [];
  const notes: string[] = [];
  /** App instances in front now, each with the op that put it there. */
  const front = new Map<string, { who: ProcRef; since: number }>();
  const leave = (t?: ProcRef) => {
    for (const [k, f] of [...front]) if (!t || sameProc(f.who, t)) front.delete(k);
  };
  /** Per app instance: in low-power mode (from its wake's `mode`). */
  let lowPower = info.lowPower;
  const candidates: { msgId: string; op: Op; frontSince: number }[] = [];
  for (const op of history) {
    // A logged-out app delivers nothing live (docs/processes.md "Push tokens"): it is not in front
    // for this invariant from the logout until a wake that is not logged out (after the login).
    if (op.proc === 'orchestrator' && op.f === 'logout' && op.type === 'ok' && !op.value?.skipped) {
      leave();
      continue;
    }
    if (op.proc === 'app' && isEvent(op, 'wake') && happened(op) && op.value?.loggedOut === true) continue;
    if (op.proc === 'app' && isEvent(op, 'wake') && happened(op)) {
      if (op.value?.mode === 'lowPower' && !lowPower) lowPower = true;
      if (op.phase === undefined || op.phase === 'active') front.set(`app#${op.pid ?? ''}`, { who: selfOf(op), since: op.index });
      continue;
    }
    if (op.proc === 'app' && op.f === 'phase' && happened(op)) {
      const p = typeof op.value === 'string' ? op.value : op.value?.phase;
      if (p !== 'active') leave(selfOf(op));
      continue;
    }
    if ((isEnd(op) || op.f === 'freeze' || op.f === 'expire') && happened(op) && targetOf(op).proc === 'app') {
      leave(targetOf(op));
      continue;
    }
    if ((op.f === 'power-cut' || op.f === 'partition') && happened(op)) leave();
    else if (op.proc === 'relay' && op.f === 'restart') leave();
    // A poison message (it never opens) is quarantined, never delivered: invariant 7 follows it.
    else if (op.proc === 'sender' && op.f === 'send' && op.type === 'ok' && front.size > 0 && op.value?.poison !== true) {
      const id = msgIdOf(op);
      if (id) candidates.push({ msgId: id, op, frontSince: Math.min(...[...front.values()].map((f) => f.since)) });
    }
  }
  const extra = lowPower && !info.lowPower ? LIVE_DELIVERY_MS.lowPowerPoll : 0;
  let excused = 0;
  const holdStarts = new Set(holds.map((h) => h.from));
  for (const c of candidates) {
    const deadline = c.op.time + windowMs + extra;
    let verdictAt: Op | 'reached' | 'excused' | null = null;
    if (holds.some((h) => h.from <= c.op.index && h.to >= c.op.index)) {
      excused++;
      continue;
    }
    for (let j = c.op.index + 1; j < history.length && verdictAt === null; j++) {
      const o = history[j]!;
      if (reachedApp(o) === c.msgId) verdictAt = 'reached';
      else if (o.time > deadline) verdictAt = o;
      else if (
        (o.proc === 'app' && o.f === 'phase' && happened(o) && (typeof o.value === 'string' ? o.value : o.value?.phase) !== 'active') ||
        ((isEnd(o) || o.f === 'freeze' || o.f === 'expire') && happened(o) && targetOf(o).proc === 'app') ||
        ((o.f === 'power-cut' || o.f === 'partition') && happened(o)) ||
        (o.proc === 'relay' && o.f === 'restart') ||
        (o.f === 'heal' && o.value?.final === true) ||
        (o.proc === 'orchestrator' && o.f === 'logout') ||
        (o.proc === 'nse' && o.f === 'get' && o.type === 'ok' && msgIdOf(o) === c.msgId) ||
        holdStarts.has(j)
      ) verdictAt = 'excused';
    }
    if (verdictAt === 'excused') excused++;
    if (verdictAt === null || verdictAt === 'reached' || verdictAt === 'excused') continue;
    violations.push({
      detail: `message ${c.msgId} sent at ${c.op.time} ms while the app was in front (since op ${c.frontSince}) did not reach the app within ${deadline - c.op.time} ms`,
      ops: [c.frontSince, c.op.index, verdictAt.index],
      msgId: c.msgId,
      proc: 'app',
    });
  }
  if (candidates.length) notes.push(`${candidates.length} message(s) sent to an app in front; ${excused} excused`);
  return verdict('live-delivery', violations, notes, false, 'liveness');
};
