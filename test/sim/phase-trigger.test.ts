import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { History } from '../../sim/history/index.js';
import { scenario, validateScenario } from '../../sim/scenario/index.js';
import { runScenario } from '../../sim/vitest.js';

const root = mkdtempSync(join(tmpdir(), 'nsekit-phase-trigger-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The app's phase entries (after its launch) up to the op where the harness held it. */
function phasesBeforeHold(h: History): string[] {
  const hold = h.findIndex((o) => o.proc === 'app' && o.f === 'harness.hold');
  expect(hold, 'the app was never held').toBeGreaterThan(0);
  return h.slice(0, hold).filter((o) => o.proc === 'app' && o.f === 'phase' && !(o.value as { initial?: boolean }).initial).map((o) => (o.value as { phase: string }).phase);
}

// Held as it enters suspending (the background entry just before must pass).
const suspending = () => scenario('phase-suspending').background('app').expire('app')
  .whenPhase('app', 'suspending').pause('app').send({ count: 2 })
  .when('nse', 'net.ack.ok').resume('app').foreground('app')
  .expectValid(['app:phase.enter', 'nse:net.ack.ok']);
// The 2nd entry into active after the steps start: entries into other phases do not count.
const secondActive = () => scenario('phase-second-active').background('app').foreground('app').background('app').foreground('app')
  .whenPhase('app', 'active', 2).wait(1).expectValid();

describe('phase-valued triggers (issue 14 item 15)', () => {
  it('the schema takes {proc, at: "phase.enter", phase} and refuses a phase on another failpoint or an unknown phase', () => {
    const base = { name: 'x', steps: [] as unknown[] };
    const ok = validateScenario({ ...base, steps: [{ when: { proc: 'app', at: 'phase.enter', phase: 'suspending', nth: 1 }, do: 'pause', proc: 'app' }, { do: 'resume', proc: 'app' }] });
    expect(ok.ok).toBe(true);
    const wrongAt = validateScenario({ ...base, steps: [{ when: { proc: 'app', at: 'lock.acquired', phase: 'suspending' }, do: 'kill', proc: 'app' }] });
    expect(wrongAt.ok).toBe(false);
    if (!wrongAt.ok) expect(wrongAt.errors).toContainEqual({ path: '$.steps[0].when.at', message: 'must be "phase.enter" (got "lock.acquired")' });
    const badPhase = validateScenario({ ...base, steps: [{ when: { proc: 'app', at: 'phase.enter', phase: 'asleep' }, do: 'kill', proc: 'app' }] });
    expect(badPhase.ok).toBe(false);
    if (!badPhase.ok) expect(badPhase.errors.some((e) => e.path === '$.steps[0].when.phase' && e.message.startsWith('must be one of "active"'))).toBe(true);
  });

  it('the builder writes whenPhase(proc, phase, nth) as that trigger', () => {
    expect(secondActive().build().steps[4]).toEqual({ when: { proc: 'app', at: 'phase.enter', phase: 'active', nth: 2 }, do: 'wait', args: { ms: 1 } });
    expect(suspending().build().steps[2]!.when).toEqual({ proc: 'app', at: 'phase.enter', phase: 'suspending' });
  });

  it('fast mode: the step fires at the entry into that phase, nth counting only those entries (seeds 1..5)', async () => {
    for (let seed = 1; seed <= 5; seed++) {
      const a = await runScenario(suspending(), { seed, mode: 'fast', outDir: root });
      expect(a).toMeetExpectations();
      expect(phasesBeforeHold(a.result.history)).toEqual(['background', 'suspending']);
      const b = await runScenario(secondActive(), { seed, mode: 'fast', outDir: root });
      expect(b).toMeetExpectations();
      const phases = phasesBeforeHold(b.result.history);
      expect(phases.at(-1)).toBe('active');
      expect(phases.filter((p) => p === 'active')).toHaveLength(2);
    }
  });

  it('real mode: the same two scenarios hold the app at the same entries', { timeout: 180_000 }, async () => {
    const a = await runScenario(suspending(), { seed: 1, outDir: root });
    expect(a).toMeetExpectations();
    expect(phasesBeforeHold(a.result.history)).toEqual(['background', 'suspending']);
    const b = await runScenario(secondActive(), { seed: 1, outDir: root });
    expect(b).toMeetExpectations();
    const phases = phasesBeforeHold(b.result.history);
    expect(phases.at(-1)).toBe('active');
    expect(phases.filter((p) => p === 'active')).toHaveLength(2);
  });
});
