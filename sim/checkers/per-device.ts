/**
 * Two simulated devices (`world.devices: 2`, docs/scenarios.md "A second device") are two
 * independent phones: each has its own app and NSE, store, lock, pending inbox and member queue of
 * every fan-out group. Their histories must never be mixed — device 2's relay copy of a message has
 * its own msgId, so device 1's store cannot be asked for it — so the invariants are judged once
 * per device, over that device's ops (`op.device === d`) plus the ops both share (no `device`: the
 * steps, the run's bookkeeping). Each device's view is re-indexed (the checkers address ops by
 * `index`); a violation's evidence is mapped back to the full history's indices and the violation
 * is attributed: `device: d` and a `device d: ` prefix on its detail.
 */
import type { History, Op } from '../history/types.js';
import type { Verdict, Violation } from './types.js';

/** The device tags present, ascending; [] for a one-device history (no op carries one). */
export function devicesIn(history: History): number[] {
  const seen = new Set<number>();
  for (const op of history) if (op?.device !== undefined) seen.add(op.device);
  return [...seen].sort((a, b) => a - b);
}

export interface DeviceView {
  device: number;
  /** The device's ops and the shared ones, re-indexed 0…n-1 in their original order. */
  history: Op[];
  /** View index → index in the full history. */
  back: number[];
}

/** One device's view of a multi-device history. */
export function deviceView(history: History, device: number): DeviceView {
  const out: Op[] = [];
  const back: number[] = [];
  for (const op of history) {
    if (op.device !== undefined && op.device !== device) continue;
    back.push(op.index);
    out.push({ ...op, index: out.length });
  }
  return { device, history: out, back };
}

/** A device's verdicts with their evidence in full-history indices and each violation attributed. */
export function attribute(view: DeviceView, verdicts: Verdict[]): Verdict[] {
  const map = (ops: number[]) => ops.map((i) => view.back[i] ?? i);
  return verdicts.map((v) => ({
    ...v,
    violations: v.violations.map((x): Violation => ({ ...x, ops: map(x.ops), detail: `device ${view.device}: ${x.detail}`, device: view.device })),
    notes: v.notes.map((n) => `device ${view.device}: ${n}`),
  }));
}

/** The per-device verdicts of each invariant merged into one: violated on any device, unknown on any, else valid. */
export function mergeDevices(perDevice: Verdict[][]): Verdict[] {
  const first = perDevice[0] ?? [];
  return first.map((v0, k) => {
    const vs = perDevice.map((d) => d[k]!);
    const valid = vs.some((v) => v.valid === false) ? false : vs.some((v) => v.valid === 'unknown') ? 'unknown' : true;
    return { invariant: v0.invariant, kind: v0.kind, valid, violations: vs.flatMap((v) => v.violations), notes: vs.flatMap((v) => v.notes) };
  });
}
