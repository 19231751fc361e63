import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CHECKERS } from '../../sim/checkers/index.js';
import { runSimCli } from '../../sim/cli/sim.js';
import { NetProxy } from '../../sim/orchestrator/index.js';
import { scenario } from '../../sim/scenario/index.js';
import { runScenario } from '../../sim/vitest.js';

const out = mkdtempSync(join(tmpdir(), 'nsekit-orch-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function capture() {
  const lines: string[] = [];
  return { lines, out: (s: string) => void lines.push(...s.split('\n')), err: (s: string) => void lines.push(`ERR ${s}`) };
}

describe('nsekit sim CLI', () => {
  it('kills the NSE frozen holding the lock: 0xdead10cc recorded, exit 1, --json last line', { timeout: 120_000 }, async () => {
    const file = join(out, 'freeze-bug.json');
    const s = scenario('freeze-bug').background('app').expire('app').send({ count: 1 }).when('nse', 'lock.acquired').freeze('nse').foreground('app').build();
    writeFileSync(file, JSON.stringify(s));
    const c = capture();
    const code = await runSimCli([file, '--seed', '42', '--json', '--out', out], c.out, c.err);
    expect(code).toBe(1);
    expect(c.lines[0]).toMatch(/^seed=42 scenario=freeze-bug mode=instant lockBackend=flock .*timeFactor=0\.01/);
    const last = JSON.parse(c.lines.filter((l) => l !== '').at(-1)!);
    expect(last.valid).toBe(false);
    expect(last.seed).toBe(42);
    expect(last.events).toBeGreaterThan(10);
    expect(last.violations.map((v: { invariant: string }) => v.invariant)).toContain('no-dead10cc');
    expect(last.violations[0].replay).toBe(`nsekit sim ${file} --seed 42`);
    expect(c.lines).toContain('FAIL no-dead10cc');
    // The run directory: history, logs, trace, report, and the latest link.
    const dir = last.runDir as string;
    for (const f of ['history.jsonl', 'trace.json', 'report.html', 'app.log', 'relay.log']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(readlinkSync(join(out, 'freeze-bug', 'latest'))).toBe(dir.split('/').at(-1));
    const ops = readFileSync(join(dir, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const held = ops.find((o) => o.f === 'lock.held-at-freeze');
    expect(held?.value.code).toBe('0xdead10cc');
    expect(ops.some((o) => o.f === 'kill' && o.value.pid === held.value.pid && o.index > held.index)).toBe(true);
    // Recovery: the message still reached the store, nothing plaintext at rest.
    const verdicts = JSON.parse(readFileSync(join(dir, 'verdict.json'), 'utf8')).verdicts as { invariant: string; valid: unknown }[];
    expect(verdicts.filter((v) => v.valid !== true).map((v) => v.invariant)).toEqual(['no-dead10cc']);
    JSON.parse(readFileSync(join(dir, 'trace.json'), 'utf8'));
  });

  it('bin/nsekit.js sim runs a catalogue scenario by name: exit code and --json last line', { timeout: 120_000 }, async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['bin/nsekit.js', 'sim', 'writer-killed-before-commit', '--seed', '8', '--json', '--out', out], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let stdout = '';
      child.stdout.on('data', (d) => (stdout += d));
      const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
      const lines = stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^seed=8 scenario=writer-killed-before-commit /);
      expect(code).toBe(0);
      expect(JSON.parse(lines.at(-1)!)).toMatchObject({ valid: true, seed: 8, violations: [] });
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('exit 3 for a liveness failure alone: a killed lease holder blocks past a short convergence bound', { timeout: 120_000 }, async () => {
    // SIGKILL (not a freeze: no 0xdead10cc) right after the NSE takes the lease; the lease stays
    // until it is stale (2 s) and the run only waits 300 ms for delivery.
    const file = join(out, 'lease-kill.json');
    const s = scenario('lease-kill').world({ lockBackend: 'lease', convergenceMs: 300 }).background('app').expire('app').send({ count: 1 })
      .when('nse', 'lock.acquired').kill('nse').foreground('app').build();
    writeFileSync(file, JSON.stringify(s));
    const c = capture();
    const code = await runSimCli([file, '--seed', '2', '--json', '--out', out], c.out, c.err);
    const last = JSON.parse(c.lines.filter((l) => l !== '').at(-1)!);
    expect(last.violations.map((v: { invariant: string }) => v.invariant)).toEqual(['liveness']);
    expect(code).toBe(3);
    expect(last.valid).toBe(false);
  });

  it('exit 4 for an invalid scenario or unknown name, with a JSON last line', async () => {
    const bad = join(out, 'bad.json');
    writeFileSync(bad, JSON.stringify({ name: 'bad', steps: [{ do: 'fly' }] }));
    for (const arg of [bad, 'no-such-scenario']) {
      const c = capture();
      expect(await runSimCli([arg, '--json', '--out', out], c.out, c.err)).toBe(4);
      expect(JSON.parse(c.lines.at(-1)!).valid).toBe('unknown');
    }
    const c = capture();
    expect(await runSimCli(['--seed', 'x', 'a'], c.out, c.err)).toBe(4);
  });
});

describe('runScenario (test-author helper)', () => {
  it('runs a builder scenario and reports verdicts and hits', { timeout: 120_000 }, async () => {
    const r = await runScenario(
      scenario('helper-smoke').background('app').expire('app').send({ count: 2 }).when('nse', 'net.get.sent').pause('nse').resume('nse').foreground('app').expectValid(['nse:net.get.sent']),
      { seed: 3, outDir: out },
    );
    expect(r.valid).toBe(true);
    expect(r.exitCode).toBe(0);
    expect(r.expectMet).toBe(true);
    expect(r.hits).toContain('nse:net.get.sent');
    expect(r.verdicts.map((v) => v.invariant)).toEqual(Object.keys(CHECKERS));
  });
});

describe('a race that is not reached', () => {
  it('a failpoint trigger that never fires: SIM_TRIGGER_TIMEOUT, verdict unknown, exit 2', { timeout: 120_000 }, async () => {
    const { runScenario: runReal } = await import('../../sim/orchestrator/index.js');
    // The device is never locked, so nothing is ever appended to the pending inbox.
    const s = scenario('never-reached').send({ count: 1 }).when('app', 'inbox.append').kill('app').expectValid(['app:inbox.append']).build();
    const r = await runReal(s, { seed: 1, outDir: out, triggerTimeoutMs: 1_500 });
    expect(r.harnessErrors.join('\n')).toMatch(/SIM_TRIGGER_TIMEOUT/);
    expect(r.exitCode).toBe(2);
    expect(r.valid).toBe('unknown');
    expect(r.missingHits).toEqual(['app:inbox.append']);
    expect(r.expectMet).toBe(false);
    expect(r.history.some((o) => o.f === 'step' && o.type === 'fail')).toBe(true);
  });
});

describe('low-power mode', () => {
  it('polling fetch, then the NSE, then the app again: status endpoint through the device network path', { timeout: 120_000 }, async () => {
    const r = await runScenario(
      scenario('low-power').world({ mode: 'low-power', budgets: { nseMs: 300_000 } })
        .send({ count: 2, notification: false })
        .when('app', 'net.ack.ok', 2).background('app').expire('app')
        .send({ count: 2, notification: true })
        .when('nse', 'net.ack.ok').foreground('app')
        .expectValid(['app:net.get.ok', 'app:net.ack.ok', 'nse:net.ack.ok']),
      { seed: 3, outDir: out },
    );
    expect(r.expectProblems).toEqual([]);
    expect(r.valid).toBe(true);
  });
});

describe('iOS rules', () => {
  it('background-task budget runs out → expiring → frozen at suspended (no expire step)', { timeout: 120_000 }, async () => {
    // The freeze follows the app's `suspended` report, which it can send only once released from the
    // phase.suspended failpoint (after the wait(1) step). With the send/foreground right behind it, a
    // loaded machine once delivered that report after the foreground: the app was active again and,
    // correctly, not frozen. The second wait lets the report land first; the test is about the freeze.
    const r = await runScenario(
      scenario('bg-budget')
        .world({ budgets: { bgTaskMs: 20_000 } })
        .background('app')
        .when('app', 'phase.suspended')
        .wait(1)
        .wait(500)
        .send({ count: 1 })
        .foreground('app'),
      { seed: 4, outDir: out },
    );
    const h = r.result.history;
    // On failure, say what the orchestrator and the app did.
    const trace = h
      .filter((o) => o.proc === 'orchestrator' || (o.proc === 'app' && /phase|suspend|expir|lifecycle|freeze/.test(o.f)))
      .map((o) => `${o.index} ${o.proc} ${o.type} ${o.f} ${JSON.stringify(o.value)}`)
      .join('\n');
    const exp = h.find((o) => o.f === 'expire' && o.value.proc === 'app');
    expect(exp?.value.why, trace).toBe('budget');
    const frz = h.find((o) => o.f === 'freeze' && o.value.proc === 'app');
    expect(frz?.value.why, trace).toBe('suspended');
    expect(frz!.index, trace).toBeGreaterThan(exp!.index);
    expect(r.valid, `${JSON.stringify(r.verdicts.filter((v) => !v.valid))}\n${trace}`).toBe(true);
  });

  it('NSE memory over budget → jetsam kill, and nothing is lost', { timeout: 120_000 }, async () => {
    // A budget of 1 KiB over the launch baseline: any growth while handling the push is over it.
    const r = await runScenario(
      scenario('jetsam').world({ budgets: { nseMemoryMb: 0.001 } }).background('app').expire('app').send({ count: 3 }).wait(300).foreground('app'),
      { seed: 6, outDir: out },
    );
    const h = r.result.history;
    const rss = h.find((o) => o.f === 'rss');
    const jet = h.find((o) => o.f === 'jetsam');
    expect(rss?.value.proc).toBe('nse');
    expect(jet?.value).toMatchObject({ proc: 'nse', why: 'memory budget' });
    expect(r.verdicts.find((v) => v.invariant === 'no-loss')?.valid).toBe(true);
    expect(r.verdicts.find((v) => v.invariant === 'liveness')?.valid).toBe(true);
    expect(r.verdicts.find((v) => v.invariant === 'integrity')?.valid).toBe(true);
    expect(r.result.harnessErrors).toEqual([]);
    expect(r.exitCode).toBe(0);
  });
});

describe('NetProxy (partition)', () => {
  it('cut drops live connections and refuses new ones; restore accepts again', async () => {
    const { createServer } = await import('node:net');
    const echo = createServer((s) => s.pipe(s));
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    const port = (echo.address() as { port: number }).port;
    const proxy = new NetProxy(port);
    await proxy.start();
    const roundTrip = () =>
      new Promise<string>((resolve) => {
        const s = connect(proxy.port, '127.0.0.1');
        let got = '';
        s.on('data', (d) => {
          got += d;
          s.end();
        });
        s.on('error', () => resolve('error'));
        s.on('close', () => resolve(got || 'closed'));
        s.write('ping');
      });
    try {
      expect(await roundTrip()).toBe('ping');
      proxy.cut();
      expect(['closed', 'error']).toContain(await roundTrip());
      proxy.restore();
      expect(await roundTrip()).toBe('ping');
    } finally {
      await proxy.close();
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });
});
