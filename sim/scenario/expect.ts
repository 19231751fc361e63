import type { CheckResult } from '../checkers/index.js';
import type { History } from '../history/types.js';
import type { HitMark, Scenario } from './types.js';

/** Which coverage marks (`name` or `proc:name`) no op in the history carries (`op.fp`). */
export function missingHits(history: History, hits: readonly HitMark[]): HitMark[] {
  if (hits.length === 0) return []; // nothing to look for (fast mode checks its marks itself): no history scan
  const seen = new Set<string>();
  for (const op of history) {
    if (!op.fp) continue;
    seen.add(op.fp);
    seen.add(`${op.proc}:${op.fp}`);
  }
  return hits.filter((h) => !seen.has(h));
}

export interface ExpectationReport {
  ok: boolean;
  /** One line per mismatch, e.g. "expected valid=true, got false". */
  problems: string[];
}

/**
 * Compares a run with the scenario's `expect`: the combined verdict, the
 * invariants expected to be violated (exactly those, when listed), and the
 * coverage marks — a scenario that passes without reaching its race proves nothing.
 */
export function checkExpectations(s: Scenario, history: History, result: CheckResult): ExpectationReport {
  const problems: string[] = [];
  const e = s.expect ?? {};
  if (e.valid !== undefined && result.valid !== e.valid) problems.push(`expected valid=${e.valid}, got ${result.valid}`);
  if (e.violations) {
    const got = result.verdicts.filter((v) => v.valid === false).map((v) => v.invariant as string);
    const missing = e.violations.filter((i) => !got.includes(i));
    const extra = got.filter((i) => !e.violations!.includes(i));
    if (missing.length) problems.push(`expected violations not found: ${missing.join(', ')}`);
    if (extra.length) problems.push(`unexpected violations: ${extra.join(', ')}`);
  }
  const miss = missingHits(history, e.hits ?? []);
  if (miss.length) problems.push(`failpoints never reached (race not hit): ${miss.join(', ')}`);
  return { ok: problems.length === 0, problems };
}
