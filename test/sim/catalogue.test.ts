import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { catalogueNames, detectorNames, resolveScenario } from '../../sim/cli/sim.js';
import { runScenario } from '../../sim/orchestrator/index.js';

// Every race of the docs/scenarios.md catalogue in real-process mode: each must meet its own `expect`
// (verdict, expected violations, coverage marks proving the race was reached).
const out = mkdtempSync(join(tmpdir(), 'nsekit-catalogue-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('catalogue (real processes)', () => {
  const names = catalogueNames();

  it('has one scenario per catalogue race, every one expected valid; detectors apart', () => {
    expect(names.length).toBeGreaterThanOrEqual(11);
    for (const name of names) expect(resolveScenario(name).scenario.expect?.valid ?? true, name).toBe(true);
    expect(detectorNames()).toEqual(['frozen-holding-lock', 'frozen-holding-lock-lease']);
    for (const name of detectorNames()) expect(resolveScenario(name).scenario.expect?.valid, name).toBe(false);
  });

  for (const name of [...names, ...detectorNames()]) {
    it(`${name} meets its expectation`, { timeout: 120_000 }, async () => {
      const { scenario, source } = resolveScenario(name);
      const r = await runScenario(scenario, { seed: 11, outDir: out, source });
      expect(r.harnessErrors, r.runDir).toEqual([]);
      expect(r.expectProblems, r.runDir).toEqual([]);
      expect(r.missingHits).toEqual([]);
      for (const h of scenario.expect?.hits ?? []) expect(r.hits).toContain(h);
      expect(r.valid).toBe(scenario.expect?.valid ?? true);
      expect(r.exitCode).toBe(scenario.expect?.valid === false ? 1 : 0);
    });
  }

  it('same seed, same verdict (frozen-holding-lock twice)', { timeout: 120_000 }, async () => {
    const { scenario, source } = resolveScenario('frozen-holding-lock');
    const a = await runScenario(scenario, { seed: 5, outDir: out, source });
    const b = await runScenario(scenario, { seed: 5, outDir: out, source });
    const summary = (r: typeof a) => ({ valid: r.valid, exit: r.exitCode, bad: r.verdicts.filter((v) => v.valid !== true).map((v) => v.invariant) });
    expect(summary(a)).toEqual({ valid: false, exit: 1, bad: ['no-dead10cc'] });
    expect(summary(b)).toEqual(summary(a));
    expect(a.replay).toBe('nsekit sim frozen-holding-lock --seed 5');
  });
});
