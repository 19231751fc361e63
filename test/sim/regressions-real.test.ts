import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/orchestrator/index.js';
import { loadScenario } from '../../sim/scenario/index.js';

// Real-mode explore findings (sim/scenarios/regressions/seed*-real-*.json): each replays valid with
// real processes on the seed it was found with. Both reproduced in at least 1 run of 2 before their fix.
const dir = fileURLToPath(new URL('../../sim/scenarios/regressions/', import.meta.url));
const FILES = readdirSync(dir).filter((f) => /-real-.*\.json$/.test(f));
const root = mkdtempSync(join(tmpdir(), 'nsekit-regressions-real-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('fixed real-mode explore findings stay fixed (real processes)', () => {
  it('has the real-mode regression files', () => expect(FILES.length).toBeGreaterThanOrEqual(2));
  for (const f of FILES) {
    it(`${f}: valid on its replay seed`, async () => {
      const s = loadScenario(join(dir, f));
      const m = /Replay: .*--seed (\d+).*?(?:--trigger-timeout-ms (\d+))?$/.exec(s.description ?? '');
      expect(m, `${f} names its replay seed`).not.toBeNull();
      const r = await runScenario(s, { seed: Number(m![1]), outDir: root, triggerTimeoutMs: Number(m![2] ?? 5_000) });
      expect(r.violations.map((v) => `${v.invariant}: ${v.detail}`), r.runDir).toEqual([]);
      expect(r.harnessErrors, r.runDir).toEqual([]);
      expect(r.valid, r.runDir).toBe(true);
    }, 90_000);
  }
});
