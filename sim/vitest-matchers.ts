import { expect } from 'vitest';

/** What the matcher reads from a run (`runScenario`'s outcome, real or fast). */
interface OutcomeLike {
  scenario?: string;
  seed?: number;
  expectMet: boolean;
  expectProblems: string[];
  runDir: string;
  replay: string;
  valid?: unknown;
  exitCode?: number;
}

function isOutcome(x: unknown): x is OutcomeLike {
  return typeof x === 'object' && x !== null && typeof (x as OutcomeLike).expectMet === 'boolean' && Array.isArray((x as OutcomeLike).expectProblems);
}

/**
 * `expect(r).toMeetExpectations()`: the scenario's own `expect` held. On failure the message
 * carries what a reader needs without rerunning: each problem, the verdict, the run folder
 * (report.html is there) and the replay command — not "expected false to be true".
 */
export function toMeetExpectations(this: { isNot?: boolean }, received: unknown) {
  if (!isOutcome(received)) {
    return { pass: false, message: () => 'toMeetExpectations() expects the outcome of runScenario() (sim/vitest.ts)' };
  }
  const r = received;
  const who = `scenario '${r.scenario ?? '?'}'${r.seed !== undefined ? ` seed ${r.seed}` : ''}`;
  const verdict = r.valid === true ? 'valid' : r.valid === false ? 'INVALID' : 'unknown';
  const tail = [`  verdict: ${verdict}${r.exitCode !== undefined ? ` (exit ${r.exitCode})` : ''}`, `  run folder: ${r.runDir} (report.html)`, `  replay: ${r.replay}`].join('\n');
  return {
    pass: r.expectMet,
    message: () =>
      r.expectMet
        ? `${who} met its expectations, and the test said it would not:\n${tail}`
        : `${who} did not meet its expectations:\n${r.expectProblems.map((p) => `  - ${p}`).join('\n')}\n${tail}`,
  };
}

/** Adds the matcher to vitest's `expect` (importing sim/vitest.ts does it). */
export function installMatchers(): void {
  expect.extend({ toMeetExpectations });
}

declare module 'vitest' {
  interface Matchers<T = any> {
    /** The run's scenario `expect` held; the failure lists the problems, the run folder and the replay. */
    toMeetExpectations(): T;
  }
}
