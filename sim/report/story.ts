/**
 * What a report says before its timeline: the scenario's story (description, steps), each
 * expectation with met / not met, the harness errors and the broken variant — so an
 * expected violation reads as expected and a run that never reached its race reads as
 * unknown, not as a bug (docs/reproducing-races.md). Built from the scenario and the
 * run's outcome by both modes' writers (sim/orchestrator/run.ts, sim/cli/fast.ts).
 */
import type { CheckResult } from '../checkers/index.js';
import type { Validity } from '../checkers/types.js';
import { missingHits } from '../scenario/expect.js';
import type { History } from '../history/types.js';
import type { Scenario, Step, Trigger } from '../scenario/types.js';

export interface Expectation {
  what: string;
  met: boolean;
  /** What the run showed instead, when not met. */
  got?: string;
}

export interface ReportStory {
  description?: string;
  steps: string[];
  expectations: Expectation[];
  /** Every expectation met and no harness error (RunResult.expectMet). */
  expectMet: boolean;
  /** A step that could not run, a trigger never reached, a world that did not start: the run proves nothing either way. */
  harness: string[];
  broken?: string;
}

function trigger(t: Trigger): string {
  if ('at_ms' in t) return `at ${t.at_ms} ms`;
  if ('after' in t) return `after step ${t.after}`;
  return `when ${t.proc}${t.device && t.device > 1 ? `@${t.device}` : ''} ${t.phase ? `enters ${t.phase}` : `reaches ${t.at}`}${t.nth && t.nth > 1 ? ` (hit ${t.nth})` : ''}`;
}

/** One step as a line: `when nse reaches net.get.sent: pause nse — the note`. */
export function stepLine(s: Step): string {
  const args = s.args && Object.keys(s.args).length ? ` ${JSON.stringify(s.args)}` : '';
  return `${s.id ? `[${s.id}] ` : ''}${s.concurrent ? '(meanwhile) ' : ''}${s.when ? `${trigger(s.when)}: ` : ''}${s.do}${s.proc ? ` ${s.proc}` : ''}${s.device && s.device > 1 ? `${s.proc ? '@' : ' on device '}${s.device}` : ''}${args}${s.note ? ` — ${s.note}` : ''}`;
}

/** A harness error's first line, its code said once (a wrapper may repeat it). */
function harnessLine(x: string): string {
  return x.split('\n')[0]!.replace(/\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+): \1: /g, '$1: ');
}

export function storyOf(s: Scenario, history: History, result: Pick<CheckResult, 'valid' | 'verdicts'>, run: { harness?: readonly string[]; broken?: string } = {}): ReportStory {
  const e = s.expect ?? {};
  const exp: Expectation[] = [];
  const word = (v: Validity) => (v === true ? 'valid' : v === false ? 'INVALID' : 'unknown');
  if (e.valid !== undefined) exp.push(result.valid === e.valid ? { what: `verdict ${word(e.valid)}`, met: true } : { what: `verdict ${word(e.valid)}`, met: false, got: word(result.valid) });
  const violated = result.verdicts.filter((v) => v.valid === false).map((v) => v.invariant as string);
  for (const inv of e.violations ?? []) exp.push(violated.includes(inv) ? { what: `${inv} violated`, met: true } : { what: `${inv} violated`, met: false, got: `${inv} held` });
  if (e.violations) for (const inv of violated.filter((i) => !e.violations!.includes(i))) exp.push({ what: `no other violation`, met: false, got: `${inv} violated` });
  const miss = new Set(missingHits(history, e.hits ?? []));
  for (const h of e.hits ?? []) exp.push(miss.has(h) ? { what: `reaches ${h}`, met: false, got: 'never reached: the race was not exercised' } : { what: `reaches ${h}`, met: true });
  const harness = (run.harness ?? []).map(harnessLine);
  // A step whose trigger fired while an earlier one was still running (sim/scenario/step-waits.ts).
  const waited = new Map<number, string>();
  for (const op of history) {
    if (op.f !== 'step.waited') continue;
    const v = op.value as { i: number; behind: number; behindDo: string; waitedMs: number };
    waited.set(v.i, ` — waited ${Math.round(v.waitedMs)} ms behind step ${v.behind} (${v.behindDo})`);
  }
  return {
    ...(s.description ? { description: s.description } : {}),
    steps: s.steps.map((st, i) => stepLine(st) + (waited.get(i) ?? '')),
    expectations: exp,
    expectMet: exp.every((x) => x.met) && harness.length === 0,
    harness,
    ...(run.broken ? { broken: run.broken } : {}),
  };
}
