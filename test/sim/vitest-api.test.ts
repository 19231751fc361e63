import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { scenario } from '../../sim/scenario/index.js';
import { runScenario } from '../../sim/vitest.js';

const root = mkdtempSync(join(tmpdir(), 'nsekit-vitest-api-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const REPO = fileURLToPath(new URL('../..', import.meta.url));

/** Runs a replay command (`nsekit sim …`) as a user would paste it, with --json; returns its last line. */
function replay(cmd: string): { status: number | null; json: { valid: unknown; exitCode: number; violations: { invariant: string }[] } } {
  const args = cmd.split(' ').slice(1); // drop "nsekit"
  const r = spawnSync(process.execPath, [join(REPO, 'bin/nsekit.js'), ...args, '--json', '--out', join(root, 'replays')], { cwd: REPO, encoding: 'utf8', timeout: 110_000 });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  return { status: r.status, json: JSON.parse(last) };
}

describe('runScenario: broken option and replays of builder scenarios (issue 14 item 13)', () => {
  it('builder broken() in fast mode: the replay keeps --broken and names the scenario file written into the run folder', async () => {
    const b = scenario('api-fast-broken').world({ budgets: { nseMs: 300_000 } }).background('app').expire('app')
      .send({ count: 2, notification: true }).when('nse', 'db.tx.commit').kill('nse').foreground('app')
      .expectViolations('no-loss', 'liveness').broken('ack-before-write');
    const r = await runScenario(b, { seed: 3, mode: 'fast', outDir: root });
    const file = join(r.runDir, 'scenario.json');
    expect(r.replay).toBe(`nsekit sim ${file} --seed 3 --mode fast --broken ack-before-write`);
    expect(existsSync(file)).toBe(true);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(b.build());
    expect(r.violations.map((v) => v.invariant)).toContain('no-loss');
    expect(r.violations.every((v) => v.replay === r.replay)).toBe(true);
    expect(r).toMeetExpectations();
    for (const f of ['history.jsonl', 'report.html', 'trace.json', 'verdict.json']) expect(existsSync(join(r.runDir, f)), f).toBe(true);
    // The replay, pasted: same verdict, same violation.
    const again = replay(r.replay);
    expect(again.status).toBe(r.exitCode);
    expect(again.json.valid).toBe(r.valid);
    expect(again.json.violations.map((v) => v.invariant)).toEqual(r.violations.map((v) => v.invariant));
    // opts.broken overrides the builder's; without either, the correct protocol holds.
    const ok = await runScenario(scenario('api-fast-ok').background('app').expire('app').send({ count: 2 }).foreground('app').expectValid(), { seed: 3, mode: 'fast', outDir: root });
    expect(ok.replay).not.toContain('--broken');
    expect(ok.valid).toBe(true);
  });

  it('real mode: runScenario(builder, {broken}) runs the variant, and the replay (with --broken, naming an existing file) reproduces it', { timeout: 240_000 }, async () => {
    const b = scenario('api-real-broken').world({ budgets: { nseMs: 300_000 } }).background('app').expire('app')
      .send({ count: 2, notification: true }).when('nse', 'db.tx.commit').kill('nse').foreground('app')
      .expectViolations('no-loss', 'liveness').expectHits('nse:db.tx.commit');
    const r = await runScenario(b, { seed: 1, outDir: root, broken: 'ack-before-write' });
    const file = join(r.runDir, 'scenario.json');
    expect(r.replay).toBe(`nsekit sim ${file} --seed 1 --broken ack-before-write`);
    expect(existsSync(file)).toBe(true);
    expect(r.result.history.some((o) => o.f === 'broken-variant')).toBe(true);
    expect(r, r.expectProblems.join('; ')).toMeetExpectations();
    const again = replay(r.replay);
    expect(again.json.violations.map((v) => v.invariant)).toContain('no-loss');
    expect(again.status).toBe(1);
  });
});

describe('toMeetExpectations (issue 14 item 18)', () => {
  it('fails with the problems, the run folder and a replay command that works', async () => {
    // Expects a violation that the correct protocol never shows, and a mark it never reaches.
    const b = scenario('api-unmet').background('app').expire('app').send({ count: 1 }).foreground('app')
      .expectViolations('no-loss').expectHits('nse:inbox.import.carried');
    const r = await runScenario(b, { seed: 7, mode: 'fast', outDir: root });
    expect(r.expectMet).toBe(false);
    let msg = '';
    try {
      expect(r).toMeetExpectations();
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain("scenario 'api-unmet' seed 7 did not meet its expectations:");
    expect(msg).toContain('  - expected valid=false, got true');
    expect(msg).toContain('  - expected violations not found: no-loss');
    expect(msg).toContain('failpoints never reached (race not hit): nse:inbox.import.carried');
    expect(msg).toContain(`run folder: ${r.runDir}`);
    expect(msg).toContain(`replay: ${r.replay}`);
    const again = replay(r.replay);
    expect(again.json.valid).toBe(r.valid);
    expect(again.status).toBe(r.exitCode);
    // .not: a met expectation fails the negated form, also with the folder and replay.
    const ok = await runScenario(scenario('api-met').background('app').send({ count: 1 }).foreground('app').expectValid(), { seed: 7, mode: 'fast', outDir: root });
    expect(ok).toMeetExpectations();
    expect(() => expect(ok).not.toMeetExpectations()).toThrow(/met its expectations[\s\S]*replay: nsekit sim/);
    expect(() => expect({ expectMet: true }).toMeetExpectations()).toThrow(/expects the outcome of runScenario/);
  });
});
