import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NSEKIT_BIN, reapCli, runCli } from '../helpers/cli.js';
import { useWorld } from '../helpers/e2e-world.js';

const BIN = NSEKIT_BIN;
const run = (args: string[], timeoutMs?: number) => runCli(args, timeoutMs === undefined ? {} : { timeoutMs });
const children: ChildProcess[] = [];

describe('e2e: the nsekit CLI', () => {
  afterEach(async () => {
    reapCli();
    for (const c of children.splice(0)) {
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await new Promise((r) => c.once('exit', r));
      }
    }
  });

  it('--help lists the commands', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['nsekit demo', 'nsekit relay', 'nsekit app', 'nsekit nse']) expect(r.stdout).toContain(c);
  });

  it('an unknown command exits 2 with the usage', async () => {
    const r = await run(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown command');
  });

  it('nsekit demo walks the device through every phase and exits 0 with its OK line', async () => {
    const r = await run(['demo']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const last = r.stdout.trim().split('\n').pop()!;
    // 13 from the sender, 1 written in the app (docs/cli.md, `nsekit demo`).
    expect(last).toMatch(/^demo: 14 sent, 14 delivered \(store 11, inbox→store 3\), 0 lost, 0 duplicated — OK$/);
    expect(r.stdout).toContain('NSE → inbox → store');
    expect(r.stdout).toContain('-- refresh window: ');
    expect(r.stdout).toContain('-- silent push: ');
    expect(r.stdout).toContain('0xdead10cc violations: 0');
  });

  const world = useWorld();

  it('nsekit app --config runs one app process driven from stdin, events as JSON lines', async () => {
    const w = await world();
    const dir = mkdtempSync(join(tmpdir(), 'nsekit-manual-'));
    const { senderCred: _s, e2e: _e, ...queue } = w.queues[0]!;
    const cfgPath = join(dir, 'proc.json');
    writeFileSync(cfgPath, JSON.stringify({ sharedDir: dir, relayUrl: w.relay.url, relayHttpUrl: w.relay.httpUrl, mode: 'instant', queues: [queue] }));
    const c = spawn(process.execPath, [BIN, 'app', '--config', cfgPath], { stdio: ['pipe', 'pipe', 'ignore'] });
    children.push(c);
    const events: Record<string, unknown>[] = [];
    let buf = '';
    const waiters: (() => void)[] = [];
    c.stdout!.on('data', (d) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith('{')) events.push(JSON.parse(line));
        for (const f of waiters.splice(0)) f();
      }
    });
    const waitFor = (pred: (e: Record<string, unknown>) => boolean) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching event; got ${JSON.stringify(events.map((e) => e.name))}`)), 30_000);
        const check = () => {
          const e = events.find(pred);
          if (e) {
            clearTimeout(t);
            resolve(e);
          } else waiters.push(check);
        };
        check();
      });
    await waitFor((e) => e.name === 'ready');
    c.stdin!.write(`unlock ${randomBytes(32).toString('hex')}\nactive\n`);
    await waitFor((e) => e.name === 'wake');
    await w.send(0, 'typed by hand');
    const stored = await waitFor((e) => e.name === 'stored' && e.via === 'sub');
    expect(stored.queueId).toBe(queue.queueId);
    c.stdin!.write('quit\n');
    await new Promise((r) => (c.exitCode !== null ? r(null) : c.once('exit', r)));
    expect(c.exitCode).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
