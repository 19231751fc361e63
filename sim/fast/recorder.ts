/**
 * A lean history recorder for the fast mode: the same Op records as
 * sim/history's HistoryRecorder (index, virtual time, proc, …), built without
 * rest/spread copies because a fast run records a few hundred ops in ~2 ms.
 */
import type { History, Op, OpInput, OpType } from '../history/types.js';

export class FastRecorder {
  private readonly list: Op[] = [];
  constructor(private readonly now: () => number) {}

  append(input: OpInput): Op {
    const op = input as Op;
    op.index = this.list.length;
    if (op.time === undefined) op.time = this.now();
    this.list.push(op);
    return op;
  }
  private add(proc: string, type: OpType, f: string, value: unknown, extra?: Partial<OpInput>): Op {
    const op: OpInput = extra ? { ...extra, proc, type, f, value } : { proc, type, f, value };
    return this.append(op);
  }
  invoke(proc: string, f: string, value?: unknown, extra?: Partial<OpInput>): Op {
    return this.add(proc, 'invoke', f, value, extra);
  }
  ok(proc: string, f: string, value?: unknown, extra?: Partial<OpInput>): Op {
    return this.add(proc, 'ok', f, value, extra);
  }
  fail(proc: string, f: string, error: string, value?: unknown, extra?: Partial<OpInput>): Op {
    return this.add(proc, 'fail', f, value, { ...extra, error });
  }
  info(proc: string, f: string, value?: unknown, extra?: Partial<OpInput>): Op {
    return this.add(proc, 'info', f, value, extra);
  }
  get history(): History {
    return this.list;
  }
  get size(): number {
    return this.list.length;
  }
}

/**
 * One device's recorder in a two-device run (docs/scenarios.md "A second device"): every op goes to
 * the shared history tagged with the device, except the step runner's own bookkeeping, which both
 * devices share (a step addressed to one device carries `value.device` and is tagged with it).
 */
const SHARED_FS: ReadonlySet<string> = new Set(['step', 'step.skipped', 'step.waited', 'run', 'converge', 'harness']);
export class DeviceRecorder extends FastRecorder {
  constructor(
    readonly base: FastRecorder,
    readonly device: number,
  ) {
    super(() => 0);
  }
  override append(input: OpInput): Op {
    if (input.device === undefined) {
      if (!SHARED_FS.has(input.f)) input.device = this.device;
      else if (typeof (input.value as { device?: unknown } | undefined)?.device === 'number') input.device = (input.value as { device: number }).device;
    }
    return this.base.append(input);
  }
  override get history(): History {
    return this.base.history;
  }
  override get size(): number {
    return this.base.size;
  }
}
