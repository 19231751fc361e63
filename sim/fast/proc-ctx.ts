import type { Clock, Host } from '../../src/core/host.js';
import type { OpType } from '../history/types.js';

/** What a simulated component needs to know about the process instance it runs in. */
export interface ProcCtx {
  proc: 'app' | 'nse';
  pid: number;
  /** Scheduler owner key ('app#101'): tasks and timers of this instance. */
  owner: string;
  clock: Clock;
  host: Host;
  /** A failpoint: recorded as a history op, checked against triggers, then (mostly) a scheduling point. */
  hit(name: string, fields?: Record<string, unknown>): Promise<void> | undefined;
  /** Record an op as this process (with its pid and current phase). */
  record(type: OpType, f: string, value?: unknown, extra?: { ref?: string | number; error?: string }): void;
  /** Yield to the scheduler without recording anything. */
  point(): Promise<void>;
}
