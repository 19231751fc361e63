import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { History } from '../../sim/history/index.js';
import { storyOf } from '../../sim/report/index.js';
import { scenario, validateScenario } from '../../sim/scenario/index.js';
import { runScenario, type ScenarioOutcome } from '../../sim/vitest.js';

const root = mkdtempSync(join(tmpdir(), 'nsekit-concurrent-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The NSE is paused holding the lock; the app comes to the front (which waits for the NSE to yield); then the NSE is resumed. */
const heldNse = (concurrent: boolean) => {
  const b = scenario(concurrent ? 'resume-meanwhile' : 'resume-after').world({ budgets: { nseMs: 300_000 } })
    .background('app').expire('app').send({ count: 2 }).pauseAt('nse', 'lock.acquired').foreground('app');
  return (concurrent ? b.meanwhile() : b).resume('nse').expectValid(['nse:lock.acquired']);
};
/** A trigger that fires while the foreground still waits for the NSE: the step waits behind it. */
const waitsBehind = () => scenario('waits-behind-foreground').world({ budgets: { nseMs: 300_000 } })
  .background('app').expire('app').send({ count: 2 })
  .when('nse', 'db.tx.begin').foreground('app')
  .when('nse', 'lock.released').wait(1).expectValid(['nse:db.tx.begin']);

const idx = (h: History, type: string, f: string, i: number) => h.findIndex((o) => o.proc === 'orchestrator' && o.type === type && o.f === f && (o.value as { i?: number }).i === i);

function checkOrderings(noConc: ScenarioOutcome, conc: ScenarioOutcome, waited: ScenarioOutcome): void {
  for (const r of [noConc, conc, waited]) expect(r, r.expectProblems.join('; ')).toMeetExpectations();
  // Without `concurrent` the resume starts only once the foreground is over; with it, while it is still running.
  const a = noConc.result.history;
  expect(idx(a, 'invoke', 'step', 5)).toBeGreaterThan(idx(a, 'ok', 'step', 4));
  const b = conc.result.history;
  expect(idx(b, 'invoke', 'step', 5)).toBeGreaterThan(idx(b, 'invoke', 'step', 4));
  expect(idx(b, 'invoke', 'step', 5)).toBeLessThan(idx(b, 'ok', 'step', 4));
  expect(b.find((o) => o.proc === 'orchestrator' && o.f === 'step' && o.type === 'invoke' && (o.value as { i: number }).i === 5)?.value).toMatchObject({ concurrent: true });
  expect(b.some((o) => o.f === 'step.waited')).toBe(false);
  // The lock.released trigger fired during the foreground: recorded, before the step runs, and in the report's story.
  const c = waited.result.history;
  const w = c.findIndex((o) => o.f === 'step.waited');
  expect(w).toBeGreaterThan(0);
  expect(c[w]!.value).toMatchObject({ i: 4, do: 'wait', behind: 3, behindDo: 'foreground' });
  expect((c[w]!.value as { waitedMs: number }).waitedMs).toBeGreaterThan(0);
  expect(w).toBeLessThan(idx(c, 'invoke', 'step', 4));
  expect(w).toBeGreaterThan(idx(c, 'invoke', 'step', 3));
  const story = storyOf(waitsBehind().build(), c, waited.result);
  expect(story.steps[4]).toMatch(/^when nse reaches lock\.released: wait \{"ms":1\} — waited \d+ ms behind step 3 \(foreground\)$/);
}

describe('concurrent steps and steps that waited behind a blocking one (issue 14 item 16)', () => {
  it('schema and builder: `concurrent: true`, written by meanwhile()', () => {
    expect(heldNse(true).build().steps[5]).toEqual({ do: 'resume', proc: 'nse', concurrent: true });
    expect(heldNse(false).build().steps[5]).toEqual({ do: 'resume', proc: 'nse' });
    const bad = validateScenario({ name: 'x', steps: [{ do: 'heal', concurrent: 'yes' }] });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.errors).toContainEqual({ path: '$.steps[0].concurrent', message: 'must be boolean (got string)' });
    expect(storyOf(heldNse(true).build(), [], { valid: true, verdicts: [] }).steps[5]).toBe('(meanwhile) resume nse');
  });

  it('fast mode (seeds 1..3)', async () => {
    for (let seed = 1; seed <= 3; seed++) {
      const opts = { seed, mode: 'fast' as const, outDir: root };
      checkOrderings(await runScenario(heldNse(false), opts), await runScenario(heldNse(true), opts), await runScenario(waitsBehind(), opts));
    }
  });

  it('real mode', { timeout: 240_000 }, async () => {
    const opts = { seed: 1, outDir: root };
    checkOrderings(await runScenario(heldNse(false), opts), await runScenario(heldNse(true), opts), await runScenario(waitsBehind(), opts));
  });
});
