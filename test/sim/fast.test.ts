import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runFast } from '../../sim/fast/index.js';
import { benchFast } from '../../sim/fast/bench.js';
import { runFastScenarioCli } from '../../sim/cli/fast.js';
import { toJsonl } from '../../sim/history/index.js';
import { loadScenario, scenario, type Scenario } from '../../sim/scenario/index.js';

const dir = (rel: string) => fileURLToPath(new URL(rel, import.meta.url));
const files = (d: string) => readdirSync(dir(d)).filter((f) => f.endsWith('.json')).map((f) => `${dir(d)}/${f}`);
const EXAMPLES = files('../../sim/scenario/examples/');
const CATALOGUE = [...files('../../sim/scenarios/'), ...files('../../sim/scenarios/detectors/')];
const SEEDS = [1, 2, 3, 42];

describe('fast mode: example and catalogue scenarios', () => {
  it('found the scenario files', () => {
    expect(EXAMPLES.length).toBeGreaterThanOrEqual(3);
    expect(CATALOGUE.length).toBeGreaterThanOrEqual(10);
  });

  for (const f of [...EXAMPLES, ...CATALOGUE]) {
    const name = f.split('/').slice(-2).join('/');
    it(`${name}: meets its expect on every seed, same verdict and same history when repeated`, async () => {
      const s = loadScenario(f);
      for (const seed of SEEDS) {
        const a = await runFast(s, seed);
        expect(a.expectProblems, `${name} seed ${seed}`).toEqual([]);
        expect(a.expectMet).toBe(true);
        if (s.expect?.valid !== false) expect(a.valid, `${name} seed ${seed}: ${a.violations.map((v) => v.detail).join('; ')}`).toBe(true);
        const b = await runFast(s, seed);
        expect(b.valid).toBe(a.valid);
        expect(b.verdicts.map((v) => [v.invariant, v.valid])).toEqual(a.verdicts.map((v) => [v.invariant, v.valid]));
        expect(toJsonl(b.history)).toBe(toJsonl(a.history));
      }
    });
  }
});

describe('fast mode: semantics', () => {
  it('runs the real core: GETs on one queue are serialized, ACK only after the durable write', async () => {
    const s = scenario('serialized').background('app').expire('app').send({ count: 3 }).push().push().wait(50).build(); // the NSE connects first, as a launched NSE does
    const r = await runFast(s, 7);
    expect(r.valid).toBe(true);
    const h = r.history;
    // Each NSE GET of a message is followed by its db.write before the device's ACK of it.
    for (const ack of h.filter((o) => o.proc === 'nse' && o.f === 'ack' && o.type === 'invoke')) {
      const id = ack.value.msgId as string;
      const write = h.find((o) => o.f === 'db.write' && o.value?.msgId === id);
      expect(write && write.index < ack.index, `write before ack of ${id}`).toBe(true);
    }
    // Slots: never two NSE slots held at once on q0.
    let held = 0;
    for (const o of h.filter((o) => o.proc === 'nse')) {
      if (o.f === 'queue.slot.acquired') held++;
      if (o.f === 'queue.slot.released') held--;
      expect(held).toBeLessThanOrEqual(1);
    }
    expect(r.hits).toContain('nse:queue.slot.acquired');
  });

  it('a kill between the write and the commit loses the uncommitted write, and the message is fetched again', async () => {
    const s = scenario('kill-before-commit').background('app').expire('app').send({ count: 1 }).when('nse', 'db.tx.commit').kill('nse').build();
    const r = await runFast(s, 3);
    const kill = r.history.find((o) => o.f === 'kill')!;
    expect(kill.value).toMatchObject({ proc: 'nse' });
    // The NSE's write never reached the store; the app stored it after the final foreground.
    const inserts = r.history.filter((o) => o.f === 'db.write' && o.value?.inserted === true);
    expect(inserts.map((o) => o.proc)).toEqual(['app']);
    expect(r.valid).toBe(true);
  });

  it('a freeze while holding the lock is recorded as 0xdead10cc and the process is killed', async () => {
    const s = scenario('freeze-in-lock').background('app').expire('app').send({ count: 1 }).when('nse', 'lock.acquired').freeze('nse').build();
    const r = await runFast(s, 1);
    const fs = r.history.filter((o) => o.proc === 'orchestrator').map((o) => o.f);
    expect(fs).toEqual(expect.arrayContaining(['freeze', 'lock.held-at-freeze', 'kill']));
    expect(r.violations.map((v) => v.invariant)).toContain('no-dead10cc');
  });

  it('same seed gives the same history; different seeds explore different interleavings', async () => {
    const s: Scenario = scenario('interleave').world({ queues: 2, senders: 2 }).background('app').send({ count: 3, queue: 0 }).send({ count: 3, queue: 1, sender: 1 }).build();
    const seen = new Set<string>();
    for (let seed = 1; seed <= 8; seed++) {
      const a = toJsonl((await runFast(s, seed)).history);
      expect(toJsonl((await runFast(s, seed)).history)).toBe(a);
      seen.add(a);
    }
    expect(seen.size).toBeGreaterThan(1);
  });
});

describe('fast mode: CLI and bench', () => {
  it('nsekit sim <file> --mode fast: params first line, verdicts, --json last line', async () => {
    const lines: string[] = [];
    const code = await runFastScenarioCli([EXAMPLES.find((f) => f.includes('second-push'))!, '--seed', '9', '--json', '--mode', 'fast'], (s) => lines.push(s), () => {});
    expect(code).toBe(0);
    expect(lines[0]).toMatch(/^seed=9 scenario=second-push-mid-get mode=fast /);
    const last = JSON.parse(lines[lines.length - 1]!);
    expect(last).toMatchObject({ valid: true, seed: 9, violations: [], mode: 'fast', expectMet: true });
    expect(last.events).toBeGreaterThan(50);
  });

  it('exit code 4 on a bad scenario path', async () => {
    expect(await runFastScenarioCli(['/nonexistent/x.json', '--mode', 'fast'], () => {}, () => {})).toBe(4);
  });

  it('benchFast reports sim_fast_runs_per_s', async () => {
    const b = await benchFast({ durationMs: 500, warmup: 3 });
    expect(b.runs).toBeGreaterThan(0);
    expect(b.sim_fast_runs_per_s).toBeGreaterThan(0);
    expect(b.steps_per_run).toBeGreaterThan(50);
  });
});
