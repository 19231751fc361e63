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
  it('the deadline, not the ordered drain, blocks the database, after the stalled write passed its gate; the app goes ahead only when its yield wait gives up', async () => {
    const r = await runFast(stalledWriteAtYield, 4269095753);
    const h = r.history;
    const v = (o: (typeof h)[number]) => (o.value ?? {}) as Record<string, unknown>;
    const nse = h.filter((o) => o.proc === 'nse');
    const yielding = nse.find((o) => o.f === 'yielding')!;
    const mark = nse.find((o) => o.type === 'invoke' && o.f === 'store.put' && v(o).op === 'markNotified')!;
    const markOk = nse.find((o) => o.type === 'ok' && o.f === 'store.put' && v(o).op === 'markNotified')!;
    const dbBlocked = nse.find((o) => o.f === 'gate.blocked' && v(o).cls === 'database')!;
    const rxBlocked = nse.find((o) => o.f === 'gate.blocked' && v(o).cls === 'receiveNetwork')!;
    expect([yielding, mark, markOk, dbBlocked, rxBlocked].every(Boolean)).toBe(true);
    // Order: yield → receive blocked → markNotified past the database gate → database blocked
    // (by the deadline: the receive was not drained, no ACK yet) → the write completes much later.
    expect(yielding.index).toBeLessThan(rxBlocked.index);
    expect(rxBlocked.index).toBeLessThan(mark.index);
    expect(mark.index).toBeLessThan(dbBlocked.index);
    expect(dbBlocked.index).toBeLessThan(markOk.index);
    expect(nse.filter((o) => o.f === 'ack' && o.index < dbBlocked.index)).toEqual([]);
    // The write was not waiting at the gate: it had invoked its lock acquire, which the step holds.
    const acquire = nse.find((o) => o.type === 'invoke' && o.f === 'lock.acquire' && o.index > mark.index)!;
    expect(acquire.index).toBeLessThan(dbBlocked.index);
    // The app's yield wait ends by its bound (the NSE is neither yielded, frozen nor dead), then it GETs r1.
    const giveUp = h.find((o) => o.proc === 'orchestrator' && o.f === 'yield.wait-timeout')!;
    expect(giveUp).toBeDefined();
    expect(nse.filter((o) => (o.f === 'yielded' || o.f === 'phase.suspended') && o.index < giveUp.index)).toEqual([]);
    const appGet = h.find((o) => o.proc === 'app' && o.type === 'ok' && o.f === 'get' && v(o).msgId === 'r1')!;
    expect(giveUp.index).toBeLessThan(appGet.index);
    const nseFreeze = h.find((o) => o.proc === 'orchestrator' && o.f === 'freeze' && v(o).proc === 'nse')!;
    expect(appGet.index).toBeLessThan(nseFreeze.index);
    expect(appGet.index).toBeLessThan(markOk.index);
    // The overlap is the only violation: the data is safe (stored once, notified at most once, not lost).
    expect(r.verdicts.filter((x) => !x.valid).map((x) => x.invariant)).toEqual(['get-isolation']);
  });
});
