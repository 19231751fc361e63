import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runFast } from '../../sim/fast/index.js';
import { loadScenario } from '../../sim/scenario/index.js';

// Explore findings that were analysed and fixed (sim/scenarios/regressions/): each replays valid
// in fast mode on the seed it was found with (its description's `Replay: … --seed N`) and on a few more.
const dir = fileURLToPath(new URL('../../sim/scenarios/regressions/', import.meta.url));
const FILES = readdirSync(dir).filter((f) => f.endsWith('.json'));

describe('fixed explore findings stay fixed (fast mode)', () => {
  it('has the regression files', () => expect(FILES.length).toBeGreaterThanOrEqual(5));
  for (const f of FILES) {
    it(`${f}: valid on its replay seed and seeds 1, 2, 3`, async () => {
      const s = loadScenario(`${dir}/${f}`);
      const replay = /Replay: .*--seed (\d+)/.exec(s.description ?? '');
      expect(replay, `${f} names its replay seed`).not.toBeNull();
      for (const seed of [Number(replay![1]), 1, 2, 3]) {
        const r = await runFast(s, seed);
        expect(r.violations.map((v) => `${v.invariant}: ${v.detail}`), `${f} seed ${seed}`).toEqual([]);
        expect(r.expectProblems, `${f} seed ${seed}`).toEqual([]);
      }
    });
  }
});
