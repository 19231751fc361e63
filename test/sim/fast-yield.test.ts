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

/**
 * Shrunk from `explore --seed 7 --runs 300` run 34 (the one `get-isolation` left). Step 4's
 * trigger holds the NSE at its second `lock.acquire.start` (its `markNotified` write) until step 3
 * gives up (2 s virtual): an NSE stalled mid-write, alive, for longer than the app waits for a yield.
 */
const stalledWriteAtYield: Scenario = {
  name: 'nse-write-stalled-at-yield',
  description: 'the NSE is asked to yield while its receive waits for the lock; the write stays stalled past the app’s yield wait',
  world: { queues: 1, senders: 1, mode: 'instant' },
  steps: [
    { do: 'expire', proc: 'app' },
    { do: 'send', args: { count: 1 } },
    { do: 'foreground', proc: 'app', when: { proc: 'nse', at: 'lock.acquire.start' } },
    { when: { proc: 'app', at: 'notify.shown' }, do: 'pause', proc: 'app' },
    { do: 'background', proc: 'app', when: { proc: 'nse', at: 'lock.acquire.start' } },
  ],
} as Scenario;

describe('fast mode: a yield whose drain is held by a stalled write (explore seed 7, run 34)', () => {
  it('the yield gives the stalled receive’s slot up at once, without ACK, before the app GETs: no overlap, nothing lost or doubled', async () => {
    const r = await runFast(stalledWriteAtYield, 4269095753);
    const h = r.history;
    const v = (o: (typeof h)[number]) => (o.value ?? {}) as Record<string, unknown>;
    const nse = h.filter((o) => o.proc === 'nse');
    const yielding = nse.find((o) => o.f === 'yielding')!;
    const nseGet = nse.find((o) => o.type === 'ok' && o.f === 'get' && v(o).msgId === 'r1')!;
    const givenUp = nse.find((o) => o.f === 'queue.slot.released' && v(o).how === 'expired')!;
    const appGet = h.find((o) => o.proc === 'app' && o.type === 'ok' && o.f === 'get' && v(o).msgId === 'r1')!;
    expect([yielding, nseGet, givenUp, appGet].every(Boolean)).toBe(true);
    // The NSE got r1 and was asked to yield mid-write; the yield voided its receive first thing
    // (docs/receive.md "Yield"), before it even reported `yielding`, and so before the app's GET.
    expect(nseGet.index).toBeLessThan(givenUp.index);
    expect(givenUp.index).toBeLessThan(yielding.index);
    expect(givenUp.index).toBeLessThan(appGet.index);
    // The NSE never ACKs a message whose slot it gave up; the app does.
    expect(nse.filter((o) => o.f === 'ack' && v(o).msgId === 'r1')).toEqual([]);
    expect(h.filter((o) => o.proc === 'app' && o.f === 'ack' && o.type === 'ok' && v(o).msgId === 'r1')).toHaveLength(1);
    expect(h.filter((o) => o.f === 'db.write' && v(o).msgId === 'r1' && v(o).inserted === true)).toHaveLength(1);
    expect(r.verdicts.filter((x) => !x.valid).map((x) => x.invariant)).toEqual([]);
  });
});
