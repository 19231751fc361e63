import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BROKEN_EXPECTED, BROKEN_VARIANTS } from '../../sim/broken.js';
import { explore } from '../../sim/explore/explore.js';
import { runFast } from '../../sim/fast/index.js';
import { loadScenario } from '../../sim/scenario/index.js';

const root = mkdtempSync(join(tmpdir(), 'nsekit-broken-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The bound the brief sets: each variant must be caught within this many fast runs. */
const MAX_RUNS = 200;

describe('deliberately broken variants are caught by explore (fast mode)', () => {
  for (const variant of BROKEN_VARIANTS) {
    const expected = BROKEN_EXPECTED[variant];
    it(`${variant} → ${expected.join(' or ')} within ${MAX_RUNS} runs; the saved minimal reproduction replays`, async () => {
      const r = await explore({ runs: MAX_RUNS, seed: 2026, broken: variant, outDir: join(root, variant), only: expected, stopOnFirst: true, maxShrinkRuns: 150 });
      expect(r.saved.length, `${variant}: not caught in ${r.runs} runs (${JSON.stringify(r.byInvariant)})`).toBe(1);
      const repro = r.saved[0]!;
      expect(expected).toContain(repro.invariant);
      expect(repro.mode).toBe('fast');
      expect(repro.replay).toBe(`nsekit sim ${repro.path} --seed ${repro.seed} --mode fast --broken ${variant}`);
      expect(repro.steps.to).toBeLessThanOrEqual(repro.steps.from);
      // Replays from the file to the same violation, every time.
      const s = loadScenario(repro.path);
      for (let k = 0; k < 2; k++) {
        const again = await runFast(s, repro.seed, { broken: variant });
        expect(again.violations.map((v) => v.invariant)).toContain(repro.invariant);
      }
      // The same file and seed with the correct protocol do not violate it: the variant is the cause.
      const correct = await runFast(s, repro.seed);
      expect(correct.violations.filter((v) => v.invariant === repro.invariant).map((v) => v.detail)).toEqual([]);
      process.stdout.write(`[broken] ${variant}: caught at run ${r.firstViolationRun} (${repro.invariant}: ${repro.detail}); ${repro.steps.from}→${repro.steps.to} steps; mode=fast\n`);
    }, 300_000);
  }
});
