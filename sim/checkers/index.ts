import type { History } from '../history/types.js';
import { withPairsMemo } from '../history/pairs.js';
import { checkGates } from './gates.js';
import { checkGetIsolation } from './get-isolation.js';
import { checkIntegrity } from './integrity.js';
import { checkLiveness } from './liveness.js';
import { checkNoDead10cc } from './dead10cc.js';
import { checkNoDuplicates } from './no-duplicates.js';
import { checkNoLoss } from './no-loss.js';
import { checkGeneration } from './generation.js';
import { checkBoundedWork } from './bounded-work.js';
import { checkLiveDelivery } from './live-delivery.js';
import { checkBadge, checkPresentation } from './presentation.js';
import { checkContent } from './content.js';
import { checkReadSync } from './read-sync.js';
import type { Checker, FinalState, InvariantName, Validity, Verdict } from './types.js';
import { attribute, deviceView, devicesIn, mergeDevices } from './per-device.js';

export * from './types.js';
export { checkGates, checkGetIsolation, checkIntegrity, checkLiveness, checkNoDead10cc, checkNoDuplicates, checkNoLoss, checkGeneration, checkBoundedWork, checkLiveDelivery, checkPresentation, checkBadge, checkContent, checkReadSync };
export { DEFAULT_NSE_MAX_EXTRA_GETS, extraGetCap } from './bounded-work.js';
export { LIVE_DELIVERY_MS } from './live-delivery.js';
export { isDbOp, isNetworkOp, NETWORK_FS, DB_FS, NO_DB_PHASES, NO_NETWORK_PHASES } from './gates.js';
export { resolveFinal } from './common.js';
export { devicesIn, deviceView } from './per-device.js';

/** The checkers in docs/invariants.md order (the seven original ones first, so their verdicts keep their positions). */
export const CHECKERS: Readonly<Record<InvariantName, Checker>> = {
  'no-loss': checkNoLoss,
  'no-duplicates': checkNoDuplicates,
  'no-dead10cc': checkNoDead10cc,
  gates: checkGates,
  'get-isolation': checkGetIsolation,
  integrity: checkIntegrity,
  liveness: checkLiveness,
  generation: checkGeneration,
  'bounded-work': checkBoundedWork,
  'live-delivery': checkLiveDelivery,
  presentation: checkPresentation,
  badge: checkBadge,
  content: checkContent,
  // Across devices: judged once over the whole history (checkAll), never per device.
  'read-sync': checkReadSync,
};
const CROSS_DEVICE: readonly InvariantName[] = ['read-sync'];

export interface CheckResult {
  /** false if any safety or liveness violation; 'unknown' if none but something inconclusive. */
  valid: Validity;
  safety: Validity;
  liveness: Validity;
  verdicts: Verdict[];
  /** CLI exit code: 0 valid, 1 safety violation, 3 liveness failure, 2 unknown. */
  exitCode: 0 | 1 | 2 | 3;
}

function combine(vs: Verdict[]): Validity {
  if (vs.some((v) => v.valid === false)) return false;
  if (vs.some((v) => v.valid === 'unknown')) return 'unknown';
  return true;
}

/** Runs every checker; a checker that throws becomes an 'unknown' verdict with the error as a note. */
export function checkAll(history: History, final?: FinalState): CheckResult {
  // Two devices: each judged over its own ops (./per-device.ts), the verdicts merged.
  const devices = devicesIn(history);
  if (devices.length > 1) {
    const per = devices.map((d) => {
      const view = deviceView(history, d);
      return attribute(view, withPairsMemo(view.history, () => verdictsOf(view.history, final, CROSS_DEVICE)));
    });
    return resultOf([...mergeDevices(per), ...verdictsOf(history, final, [], CROSS_DEVICE)]);
  }
  // The checkers that pair invokes with completions share one pairing of this history.
  return withPairsMemo(history, () => resultOf(verdictsOf(history, final)));
}

/** The verdicts of every checker but `skip` (or only those in `only`), in CHECKERS order. */
function verdictsOf(history: History, final?: FinalState, skip: readonly InvariantName[] = [], only?: readonly InvariantName[]): Verdict[] {
  const verdicts: Verdict[] = [];
  for (const [name, check] of Object.entries(CHECKERS) as [InvariantName, Checker][]) {
    if (skip.includes(name) || (only && !only.includes(name))) continue;
    try {
      verdicts.push(check(history, final));
    } catch (e) {
      verdicts.push({ invariant: name, kind: name === 'liveness' || name === 'live-delivery' || name === 'badge' || name === 'read-sync' ? 'liveness' : 'safety', valid: 'unknown', violations: [], notes: [`checker threw: ${(e as Error).message}`] });
    }
  }
  return verdicts;
}

function resultOf(verdicts: Verdict[]): CheckResult {
  const safety = combine(verdicts.filter((v) => v.kind === 'safety'));
  const liveness = combine(verdicts.filter((v) => v.kind === 'liveness'));
  const valid = combine(verdicts);
  // Safety outranks liveness; a definite liveness failure outranks "unknown".
  const exitCode = safety === false ? 1 : liveness === false ? 3 : valid === 'unknown' ? 2 : 0;
  return { valid, safety, liveness, verdicts, exitCode };
}

export interface RunJudgement {
  valid: Validity;
  /** 0 valid, 1 safety violation, 2 unknown, 3 liveness failure, 4 harness error. */
  exitCode: 0 | 1 | 2 | 3 | 4;
}

/**
 * The run's verdict from the checkers plus what the harness could not do, the same in both
 * modes. A violation stands whatever else happened; otherwise a step that never ran as written
 * (`step N …`: a trigger that never fired) or a missed coverage mark means the race was not
 * exercised — no claim either way (2); any other harness error is 4.
 */
export function judgeRun(r: CheckResult, harness: readonly string[], missingHits: readonly string[]): RunJudgement {
  if (r.exitCode === 1 || r.exitCode === 3) return { valid: false, exitCode: r.exitCode };
  if (harness.some((x) => !x.startsWith('step '))) return { valid: 'unknown', exitCode: 4 };
  if (harness.length || missingHits.length) return { valid: 'unknown', exitCode: 2 };
  return { valid: r.valid, exitCode: r.exitCode };
}
