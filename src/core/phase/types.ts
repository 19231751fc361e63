/** Constructor options of the PhaseController, and a small promise helper it uses. */

export interface PhaseHooks {
  /** After the database class has drained (or the deadline forced it), before 'suspended' is emitted: finish tx, checkpoint, close store, release lock. */
  onSuspend?: () => void | Promise<void>;
  /** Before classes reopen on activation (reopen the store). */
  onActivate?: () => void | Promise<void>;
}

export interface PhaseControllerOptions {
  /** Process name ('app', 'nse'), put in every log line and failpoint. */
  proc: string;
  hooks?: PhaseHooks;
  /** How long a new op waits for its blocked class before GATE_TIMEOUT. Default 30000; Infinity waits forever. */
  defaultOpTimeoutMs?: number;
}

export interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
}
export function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}
