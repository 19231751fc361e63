import { describe, expect, it } from 'vitest';
import { runFast } from '../../sim/fast/index.js';
import type { Scenario } from '../../sim/scenario/index.js';

/** Shrunk from `explore --seed 7` run 39: the NSE is frozen mid-fetch when the app comes to the front, then thawed. */
const frozenAtForeground: Scenario = {
  name: 'nse-frozen-at-foreground-then-thawed',
  description: 'the foreground app cannot wait for a frozen NSE; once thawed, the NSE must yield instead of GETting',
  world: { queues: 1, senders: 1, mode: 'instant' },
  steps: [
    { do: 'background', proc: 'app' },
    { do: 'lock-device' },
    { do: 'send', args: { count: 4 } },
    { when: { proc: 'nse', at: 'inbox.append', nth: 3 }, do: 'freeze', proc: 'nse' },
    { do: 'unlock-device' },
    { do: 'foreground', proc: 'app' },
    { do: 'thaw', proc: 'nse' },
    { do: 'wait', args: { ms: 3 } },
  ],
} as Scenario;

describe('fast mode: the app does not GET before the NSE has yielded', () => {
  it('an NSE frozen at foreground yields when thawed: no GET starts after the thaw, get-isolation holds', async () => {
    for (const seed of [4266092816, 1, 2, 3, 42]) {
      const r = await runFast(frozenAtForeground, seed);
      const h = r.history;
      const verdict = r.verdicts.find((v) => v.invariant === 'get-isolation');
      expect(verdict?.valid, `seed ${seed}: ${verdict?.violations.map((v) => v.detail).join('; ')}`).toBe(true);
      const thaw = h.find((o) => o.f === 'thaw' && o.proc === 'orchestrator' && (o.value as { proc?: string }).proc === 'nse');
      expect(thaw, `seed ${seed}`).toBeDefined();
      expect(h.some((o) => o.index > thaw!.index && o.proc === 'nse' && o.f === 'yielding'), `seed ${seed}`).toBe(true);
      const lateGets = h.filter((o) => o.index > thaw!.index && o.proc === 'nse' && o.f === 'get' && o.type === 'invoke');
      expect(lateGets, `seed ${seed}`).toEqual([]);
    }
  });
});
