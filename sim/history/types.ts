/**
 * Jepsen-style operation records. Every step of a simulated run — a process
 * starting a GET, the relay deleting on ACK, the orchestrator freezing the NSE —
 * becomes one `Op`. `index` is the total order in which the recorder saw the
 * ops; checkers order by `index`, never by `time` (several ops share a ms).
 */
export type OpType = 'invoke' | 'ok' | 'fail' | 'info';
export type ProcName = 'app' | 'nse' | 'relay' | 'orchestrator' | 'sender' | (string & {});

export interface Op {
  /** 0-based position in the history; assigned by the recorder. */
  index: number;
  /** ms since run start (virtual ms in the deterministic mode). */
  time: number;
  proc: ProcName;
  /** OS pid of the process that did the op (a relaunched NSE has a new one). */
  pid?: number;
  /** The process's phase when it started the op (as the process itself saw it). */
  phase?: string;
  type: OpType;
  /** What happened: 'get', 'ack', 'db.write', 'lock.acquire', 'freeze', 'phase', … */
  f: string;
  value?: any;
  error?: string;
  /**
   * Optional correlation id pairing an invoke with its completion when one
   * process runs several ops of the same `f` at once (see pairs.ts).
   */
  ref?: string | number;
  /** The failpoint whose hit produced this op (see failpoint-ops.ts): coverage marks. */
  fp?: string;
  /**
   * Which simulated device the op belongs to, in a run with `world.devices: 2` (1 or 2); absent in
   * a one-device run and on ops both devices share (the steps, the run's own bookkeeping). The
   * checkers judge each device over its own ops plus the shared ones (sim/checkers/per-device.ts).
   */
  device?: number;
}

/** An op before the recorder numbers and timestamps it. */
export type OpInput = Omit<Op, 'index' | 'time'> & { time?: number };

export type History = readonly Op[];

export const OP_TYPES: readonly OpType[] = ['invoke', 'ok', 'fail', 'info'];

/** Checks the shape of a parsed record; returns a reason or null. */
export function opShapeError(x: unknown): string | null {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return 'not an object';
  const o = x as Record<string, unknown>;
  if (!Number.isInteger(o.index) || (o.index as number) < 0) return 'index must be a non-negative integer';
  if (typeof o.time !== 'number' || !Number.isFinite(o.time)) return 'time must be a finite number';
  if (typeof o.proc !== 'string' || o.proc === '') return 'proc must be a non-empty string';
  if (!OP_TYPES.includes(o.type as OpType)) return `type must be one of ${OP_TYPES.join('|')}`;
  if (typeof o.f !== 'string' || o.f === '') return 'f must be a non-empty string';
  if (o.pid !== undefined && !Number.isInteger(o.pid)) return 'pid must be an integer';
  if (o.phase !== undefined && typeof o.phase !== 'string') return 'phase must be a string';
  if (o.error !== undefined && typeof o.error !== 'string') return 'error must be a string';
  if (o.device !== undefined && !(Number.isInteger(o.device) && (o.device as number) >= 1)) return 'device must be a positive integer';
  return null;
}
