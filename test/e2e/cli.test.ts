import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const BIN = fileURLToPath(new URL('../../bin/nsekit.js', import.meta.url));
const children: ChildProcess[] = [];

/** Run the CLI to completion (bounded), collecting stdout. */
function run(args: string[], timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(c);
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d) => (stdout += d));
    c.stderr!.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`nsekit ${args.join(' ')} did not finish in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    c.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('e2e: the nsekit CLI', () => {
  afterEach(async () => {
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
    expect(last).toMatch(/^demo: 12 sent, 12 delivered \(store 9, inbox→store 3\), 0 lost, 0 duplicated — OK$/);
    expect(r.stdout).toContain('NSE → inbox → store');
    expect(r.stdout).toContain('0xdead10cc violations: 0');
  });
});
