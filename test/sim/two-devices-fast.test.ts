/**
 * A second device in the simulator (`world.devices: 2`, docs/scenarios.md "A second device"),
 * fast mode: every send is one fan-out that reaches each device exactly once, steps and triggers
 * address device 2's processes, and the checkers judge each device over its own ops — a duplicate
 * or a loss planted on device 2 only is caught and attributed to device 2.
 */
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkAll } from '../../sim/checkers/index.js';
import { runFast } from '../../sim/fast/index.js';
import { toJsonl, type History, type Op } from '../../sim/history/index.js';
import { storyOf, toChromeTrace } from '../../sim/report/index.js';
import { loadScenario, scenario, validateScenario, type Scenario } from '../../sim/scenario/index.js';
import { deliveredOncePerDevice, plantDuplicate, plantLoss } from './two-devices-helpers.js';

const FANOUT = loadScenario(fileURLToPath(new URL('../../sim/scenarios/two-devices-fanout.json', import.meta.url)));

describe('two devices, fast mode', () => {
  it('every message reaches both devices exactly once, over seeds; same seed, same history', async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const r = await runFast(FANOUT, seed);
      expect(r.expectProblems, `seed ${seed}`).toEqual([]);
      expect(r.valid).toBe(true);
      const per = deliveredOncePerDevice(r.history);
      expect(per.map((d) => d.device)).toEqual([1, 2]);
      for (const d of per) {
        expect(d.labels, `seed ${seed} device ${d.device}`).toEqual(['m1', 'm2', 'm3']);
        expect(d.missing).toEqual([]);
        expect(d.twice).toEqual([]);
      }
      // Each device has its own copy (own queue, own relay msgId): nothing shared between them.
      expect(per[0]!.msgIds.some((id) => per[1]!.msgIds.includes(id))).toBe(false);
      // One fan-out per flagged send, pushed to both devices' queues.
      const fan = r.history.filter((o) => o.f === 'notify:fanout');
      expect(fan).toHaveLength(3);
      for (const o of fan) expect(o.value.recipients).toBe(2);
      const again = await runFast(FANOUT, seed);
      expect(toJsonl(again.history)).toBe(toJsonl(r.history));
    }
  });

  it("triggers and steps on device 2 act on device 2's processes only", async () => {
    const r = await runFast(FANOUT, 1);
    const pidsOf = (d: number) => new Set(r.history.filter((o) => o.device === d && (o.proc === 'app' || o.proc === 'nse')).map((o) => o.pid));
    const d1 = pidsOf(1);
    const d2 = pidsOf(2);
    expect([...d1].some((p) => d2.has(p))).toBe(false);
    // The pause held device 2's NSE at its GET; the freeze at phase.suspended froze device 2's NSE.
    const hold = r.history.find((o) => o.f === 'harness.hold' && o.proc === 'nse' && o.value.at === 'net.get.sent')!;
    expect(hold.device).toBe(2);
    expect(d2.has(hold.pid)).toBe(true);
    const stepFreeze = r.history.find((o) => o.f === 'freeze' && o.value.why === 'step')!;
    expect(stepFreeze.device).toBe(2);
    expect(stepFreeze.value.proc).toBe('nse');
    // Device 1's app was never frozen, expired or backgrounded by these steps.
    expect(r.history.some((o) => o.device === 1 && (o.f === 'freeze' || o.f === 'expire') && o.value?.proc === 'app')).toBe(false);
    // Step ops name their device: device 2's pause, device 1's hold of its app, none for a send.
    const steps = r.history.filter((o) => o.f === 'step' && o.type === 'invoke');
    expect(steps.find((o) => o.value.do === 'pause')!.device).toBe(2);
    expect(steps.find((o) => o.value.do === 'wait' && o.value.at === 'db.write.done')!.device).toBe(1);
    expect(steps.find((o) => o.value.do === 'send')!.device).toBeUndefined();
    // Reports: device 2's processes have lanes of their own; the story names the device.
    const procs = toChromeTrace(r.history).traceEvents.filter((e) => e.ph === 'M' && e.name === 'process_name').map((e) => (e.args as { name: string }).name);
    expect(procs).toEqual(expect.arrayContaining(['app', 'nse@2', 'app@2']));
    expect(procs).not.toContain('nse'); // device 1's NSE never ran: its app was in front throughout
    const story = storyOf(FANOUT, r.history, r).steps.join('\n');
    expect(story).toContain('when nse@2 reaches net.get.sent: pause nse@2');
  });

  it('a duplicate planted on device 2 only is caught and attributed to device 2', async () => {
    const r = await runFast(FANOUT, 2);
    expect(checkAll(r.history).valid).toBe(true);
    const bad = checkAll(plantDuplicate(r.history, 2));
    expect(bad.valid).toBe(false);
    const v = bad.verdicts.find((x) => x.invariant === 'no-duplicates')!;
    expect(v.valid).toBe(false);
    expect(v.violations.length).toBeGreaterThan(0);
    for (const x of v.violations) {
      expect(x.device).toBe(2);
      expect(x.detail).toMatch(/^device 2: /);
    }
    // Every other invariant and device 1 stay clean.
    expect(bad.verdicts.filter((x) => x.valid === false).map((x) => x.invariant)).toEqual(['no-duplicates']);
    expect(bad.verdicts.flatMap((x) => x.violations).some((x) => x.device === 1)).toBe(false);
    // The same plant on device 1 is attributed to device 1.
    const bad1 = checkAll(plantDuplicate(r.history, 1)).verdicts.find((x) => x.invariant === 'no-duplicates')!;
    expect(bad1.violations.map((x) => x.device)).toEqual(bad1.violations.map(() => 1));
  });

  it('a loss planted on device 2 only is caught and attributed to device 2; evidence cites the full history', async () => {
    const r = await runFast(FANOUT, 3);
    const { history, msgId } = plantLoss(r.history, 2);
    const bad = checkAll(history);
    const v = bad.verdicts.find((x) => x.invariant === 'no-loss')!;
    expect(v.valid).toBe(false);
    expect(v.violations).toHaveLength(1);
    expect(v.violations[0]!.device).toBe(2);
    expect(v.violations[0]!.msgId).toBe(msgId);
    // The evidence indices point at device 2's ops in the full history (the ACK of that message).
    const cited = v.violations[0]!.ops.map((i) => history[i]!);
    expect(cited.some((o) => o.f === 'ack' && o.value?.msgId === msgId && o.device === 2)).toBe(true);
    for (const o of cited) expect(o.device === undefined || o.device === 2).toBe(true);
  });

  it('a broken variant that only device 2 exercises (no lock release on suspend) is caught on device 2 only', async () => {
    const r = await runFast(FANOUT, 1, { broken: 'no-lock-release-on-suspend' });
    expect(r.valid).toBe(false);
    const v = r.verdicts.find((x) => x.invariant === 'no-dead10cc')!;
    expect(v.valid).toBe(false);
    // Device 1's app stays in front throughout: it never suspends, so it never freezes holding the lock.
    expect(new Set(v.violations.map((x) => x.device))).toEqual(new Set([2]));
  });

  it('judging the two devices as one history would mix them (why the checkers split per device)', async () => {
    const r = await runFast(FANOUT, 1);
    const untagged: History = r.history.map((o) => {
      const { device: _d, ...rest } = o;
      return rest as Op;
    });
    // Device 1's snapshot is the last store snapshot but one: device 2's messages look lost or stray.
    expect(checkAll(untagged).valid).toBe(false);
    expect(checkAll(r.history).valid).toBe(true);
  });

  it('validation: device 2 needs world.devices 2; world verbs take no device; pause/resume pair per device', () => {
    const base = { name: 'x', world: { devices: 2 } } as Scenario;
    const errs = (s: unknown) => {
      const r = validateScenario(s);
      return r.ok ? [] : r.errors.map((e) => `${e.path}: ${e.message}`);
    };
    expect(errs({ ...base, steps: [{ do: 'kill', proc: 'nse', device: 2 }] })).toEqual([]);
    expect(errs({ name: 'x', steps: [{ do: 'kill', proc: 'nse', device: 2 }] }).join('\n')).toMatch(/\$\.steps\[0\]\.device: device 2 out of range/);
    expect(errs({ name: 'x', steps: [{ when: { proc: 'nse', at: 'lock.acquired', device: 2 }, do: 'wait', args: { ms: 1 } }] }).join('\n')).toMatch(/when\.device: device 2 out of range/);
    expect(errs({ ...base, steps: [{ do: 'send', device: 2 }] }).length).toBeGreaterThan(0);
    expect(errs({ ...base, steps: [{ do: 'kill', proc: 'nse', device: 3 }] }).length).toBeGreaterThan(0);
    const pause = { when: { proc: 'nse', at: 'net.get.sent', device: 2 }, do: 'pause', proc: 'nse', device: 2 };
    expect(errs({ ...base, steps: [pause, { do: 'resume', proc: 'nse', device: 2 }] })).toEqual([]);
    expect(errs({ ...base, steps: [pause, { do: 'resume', proc: 'nse' }] }).join('\n')).toMatch(/resume of 'nse' without an earlier pause/);
    expect(errs({ ...base, steps: [{ ...pause, device: 1 }] }).join('\n')).toMatch(/when\.device must be 1/);
  });

  it('builder: onDevice(2) puts the last step and its trigger on device 2', () => {
    const s = scenario('b2').world({ devices: 2 }).background('app').onDevice(2).send({ count: 1 }).when('nse', 'net.get.sent').pause('nse').onDevice(2).resume('nse').onDevice(2).build();
    expect(s.steps[0]).toEqual({ do: 'background', proc: 'app', device: 2 });
    expect(s.steps[2]).toEqual({ when: { proc: 'nse', at: 'net.get.sent', device: 2 }, do: 'pause', proc: 'nse', device: 2 });
    expect(() => scenario('b1').background('app').onDevice(2).build()).toThrow(/device 2 out of range/);
  });

  it('device-2 verbs: lock/unlock, kill, background/foreground, freeze/thaw, expire on device 2; both devices converge', async () => {
    const s: Scenario = {
      name: 'two-devices-verbs',
      world: { devices: 2, budgets: { nseMs: 300_000 } },
      steps: [
        { do: 'background', proc: 'app', device: 2 },
        { do: 'lock-device', device: 2 },
        { do: 'send', args: { count: 2 } },
        { when: { proc: 'nse', at: 'inbox.append.done', device: 2 }, do: 'kill', proc: 'nse', device: 2 },
        { do: 'send', args: { count: 1 } },
        { do: 'expire', proc: 'app', device: 2 },
        { do: 'wait', args: { ms: 50 } },
        { do: 'freeze', proc: 'app', device: 2 },
        { do: 'thaw', proc: 'app', device: 2 },
        { do: 'unlock-device', device: 2 },
        { do: 'foreground', proc: 'app', device: 2 },
      ],
      expect: { valid: true, hits: ['nse:inbox.append.done'] },
    };
    expect(validateScenario(s).ok).toBe(true);
    for (const seed of [1, 2, 3]) {
      const r = await runFast(s, seed);
      expect(r.expectProblems, `seed ${seed}`).toEqual([]);
      const lock = r.history.find((o) => o.f === 'lock-device')!;
      expect(lock.device).toBe(2);
      expect(r.history.find((o) => o.f === 'kill' && o.value.why === 'step')!.device).toBe(2);
      for (const d of deliveredOncePerDevice(r.history)) expect(d.labels, `seed ${seed} device ${d.device}`).toEqual(['m1', 'm2', 'm3']);
    }
  });
});
