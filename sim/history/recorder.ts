import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import type { History, Op, OpInput } from './types.js';

export interface RecorderOptions {
  /** ms since run start; defaults to monotonic time since the recorder was made, µs resolution. */
  now?: () => number;
  /** Append each op as one JSONL line to this file as it is recorded. */
  file?: string;
  /** fsync after every line (slow; for runs where the orchestrator itself may die). */
  fsync?: boolean;
}

/**
 * Collects ops in arrival order and (optionally) streams them to a JSONL file,
 * one line per op, written synchronously so a crash loses at most the line
 * being written — which the reader then skips as torn.
 */
export class HistoryRecorder {
  private readonly list: Op[] = [];
  private readonly now: () => number;
  private fd: number | null = null;
  private readonly fsync: boolean;
  private readonly listeners = new Set<(op: Op) => void>();

  constructor(opts: RecorderOptions = {}) {
    // Monotonic, to the µs: ops a few hundred µs apart stay apart in trace.json.
    const t0 = performance.now();
    this.now = opts.now ?? (() => Math.round((performance.now() - t0) * 1000) / 1000);
    this.fsync = opts.fsync ?? false;
    if (opts.file) this.fd = openSync(opts.file, 'a');
  }

  /** Numbers, timestamps, stores and writes one op; returns the recorded op. */
  append(input: OpInput): Op {
    const { time, ...rest } = input;
    const op: Op = { index: this.list.length, time: time ?? this.now(), ...rest };
    this.list.push(op);
    if (this.fd !== null) {
      writeSync(this.fd, JSON.stringify(op) + '\n');
      if (this.fsync) fsyncSync(this.fd);
    }
    for (const l of this.listeners) l(op);
    return op;
  }

  invoke(proc: string, f: string, value?: unknown, extra: Partial<OpInput> = {}): Op {
    return this.append({ ...extra, proc, type: 'invoke', f, value });
  }
  ok(proc: string, f: string, value?: unknown, extra: Partial<OpInput> = {}): Op {
    return this.append({ ...extra, proc, type: 'ok', f, value });
  }
  fail(proc: string, f: string, error: string, value?: unknown, extra: Partial<OpInput> = {}): Op {
    return this.append({ ...extra, proc, type: 'fail', f, value, error });
  }
  info(proc: string, f: string, value?: unknown, extra: Partial<OpInput> = {}): Op {
    return this.append({ ...extra, proc, type: 'info', f, value });
  }

  /** Live view for progress displays and event-triggered steps. Returns an unsubscribe. */
  onOp(fn: (op: Op) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  get history(): History {
    return this.list;
  }
  get size(): number {
    return this.list.length;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}
