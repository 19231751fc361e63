import type { History, Op } from '../history/types.js';

export type Validity = true | false | 'unknown';
export type InvariantName =
  | 'no-loss'
  | 'no-duplicates'
  | 'no-dead10cc'
  | 'gates'
  | 'get-isolation'
  | 'integrity'
  | 'liveness'
  | 'generation'
  | 'bounded-work'
  | 'live-delivery'
  | 'presentation'
  | 'badge'
  | 'content'
  | 'read-sync';

export interface Violation {
  detail: string;
  /** History indices of the ops that show the violation (sorted). */
  ops: number[];
  msgId?: string;
  proc?: string;
  /** In a two-device run: the device whose history shows it (sim/checkers/per-device.ts). */
  device?: number;
}

export interface Verdict {
  invariant: InvariantName;
  /** Liveness failures get their own exit code; everything else is safety. */
  kind: 'safety' | 'liveness';
  valid: Validity;
  violations: Violation[];
  /** Why a verdict is 'unknown', and other things a reader should know. */
  notes: string[];
}

/**
 * State after the run (faults healed, app active, convergence time passed).
 * Any field missing here is taken from the last matching snapshot op in the
 * history (`store.snapshot`, `inbox.snapshot`, `relay.snapshot`).
 */
export interface FinalState {
  /** One entry per stored row: a msgId twice means it was stored twice. */
  store?: { msgIds: string[] };
  /** Records still in the pending inbox file (not yet imported). */
  inbox?: { msgIds: string[] };
  relay?: {
    /** Every msgId the relay deleted on ACK during the run (if the relay keeps such a log). */
    deleted?: string[];
    /** Messages still queued (un-ACKed) at the relay. */
    queued?: { queueId: string; msgId: string }[];
  };
  /** The bound the run waited after the final heal; enables the "stored late" check. */
  convergenceMs?: number;
}

export type Checker = (history: History, final?: FinalState) => Verdict;

export function verdict(
  invariant: InvariantName,
  violations: Violation[],
  notes: string[] = [],
  unknown = false,
  kind: 'safety' | 'liveness' = 'safety',
): Verdict {
  const valid: Validity = violations.length > 0 ? false : unknown ? 'unknown' : true;
  for (const v of violations) v.ops = [...new Set(v.ops)].sort((a, b) => a - b);
  return { invariant, kind, valid, violations, notes };
}

export type { History, Op };
