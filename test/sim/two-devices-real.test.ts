/**
 * A second device in the real-process simulator (`world.devices: 2`, docs/scenarios.md "A second
 * device"): two src/device Devices (own app + NSE processes, store, lock, token) behind one relay,
 * each send one GSEND. Every message must reach each device exactly once, device 2's steps must
 * act on device 2's processes, and a duplicate planted on device 2 only is attributed to it.
 * runScenario stops every process it started, failure or not (SimWorld.stop in its finally).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { checkAll } from '../../sim/checkers/index.js';
import { runScenario } from '../../sim/orchestrator/index.js';
import { loadScenario } from '../../sim/scenario/index.js';
import { deliveredOncePerDevice, plantDuplicate, plantLoss } from './two-devices-helpers.js';

const out = mkdtempSync(join(tmpdir(), 'nsekit-two-devices-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
const FANOUT = loadScenario(fileURLToPath(new URL('../../sim/scenarios/two-devices-fanout.json', import.meta.url)));

describe('two devices, real processes', () => {
  it('two-devices-fanout: each device stores every message once; device-2 steps hit device 2; plants on device 2 are attributed to it', { timeout: 120_000 }, async () => {
    const r = await runScenario(FANOUT, { seed: 3, outDir: out, source: 'two-devices-fanout' });
    expect(r.harnessErrors, r.runDir).toEqual([]);
    expect(r.expectProblems, r.runDir).toEqual([]);
    expect(r.valid).toBe(true);
    expect(r.params.devices).toBe(2);

    const per = deliveredOncePerDevice(r.history);
    expect(per.map((d) => d.device)).toEqual([1, 2]);
    for (const d of per) expect(d.labels, `device ${d.device}`).toEqual(['m1', 'm2', 'm3']);
    expect(per[0]!.msgIds.some((id) => per[1]!.msgIds.includes(id))).toBe(false);

    // Two devices' processes, disjoint; device 2's NSE was the one held mid-GET and frozen by the steps.
    const pids = (d: number) => new Set(r.history.filter((o) => o.device === d && (o.proc === 'app' || o.proc === 'nse')).map((o) => o.pid));
    expect([...pids(1)].some((p) => pids(2).has(p))).toBe(false);
    const hold = r.history.find((o) => o.f === 'harness.hold' && o.proc === 'nse' && o.value.at === 'net.get.sent')!;
    expect(hold.device).toBe(2);
    const freeze = r.history.find((o) => o.f === 'freeze' && o.value.why === 'step')!;
    expect(freeze.device).toBe(2);
    expect(pids(2).has(freeze.value.pid)).toBe(true);
    // The relay logged each fan-out; each device has its own app-group directory and logs.
    expect(readFileSync(join(r.runDir, 'relay.log'), 'utf8').match(/notify:fanout/g)?.length).toBe(3);
    expect(readFileSync(join(r.runDir, 'app2.log'), 'utf8').length).toBeGreaterThan(0);

    const dup = checkAll(plantDuplicate(r.history, 2)).verdicts.find((v) => v.invariant === 'no-duplicates')!;
    expect(dup.valid).toBe(false);
    for (const x of dup.violations) expect([x.device, x.detail.slice(0, 10)]).toEqual([2, 'device 2: ']);
    const loss = plantLoss(r.history, 2);
    const lost = checkAll(loss.history).verdicts.find((v) => v.invariant === 'no-loss')!;
    expect(lost.violations.map((x) => [x.device, x.msgId])).toEqual([[2, loss.msgId]]);
  });
});
