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
