/**
 * The manual run of docs/cli.md, as written there: a relay, `nsekit queue create`, and an
 * app fed `unlock`, `active`, `send` on stdin (all given at once, before the app is ready)
 * that receives what it sent.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { loadProcConfig } from '../../src/cli/proc-config.js';

const BIN = fileURLToPath(new URL('../../bin/nsekit.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nsekit-queue-'));
const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGKILL');
      await new Promise((r) => c.once('exit', r));
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

function start(args: string[], stdin: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  const c = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: [stdin, 'pipe', 'pipe'] });
  children.push(c);
  return c;
}
function finish(c: ChildProcess): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  c.stdout!.on('data', (d) => (stdout += d));
  c.stderr!.on('data', (d) => (stderr += d));
  return new Promise((r) => c.on('exit', (code) => r({ code, stdout, stderr })));
}

describe('nsekit queue create + nsekit app --config (docs/cli.md, manual runs)', () => {
  it('writes a proc.json the app runs as it is; the app sends on the queue and receives its own message', { timeout: 120_000 }, async () => {
    const relay = start(['relay', '--db', join(dir, 'relay.db'), '--port', '0']);
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('relay did not print its URL')), 30_000);
      createInterface({ input: relay.stdout! }).on('line', (l) => {
        const m = /^relay (ws:\/\/\S+) /.exec(l);
        if (m) {
          clearTimeout(t);
          resolve(m[1]!);
        }
      });
    });
    const file = join(dir, 'proc.json');
    const made = await finish(start(['queue', 'create', '--relay', url, '--out', file, '--shared-dir', join(dir, 'group')]));
    expect(made.code, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/^wrote \S+proc\.json: 1 queue \([0-9a-f]+\) on ws:/);
    expect(made.stderr).toMatch(/unlock [0-9a-f]{64}/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const cfg = loadProcConfig(file); // the same check app/nse make
    expect(cfg.queues[0]!.senderKey).toBeTruthy();
    expect(JSON.parse(readFileSync(file, 'utf8')).relayUrl).toBe(url);
    // An existing file is kept.
    const again = await finish(start(['queue', 'create', '--relay', url, '--out', file]));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/CLI_IO: --out \S+proc\.json exists \(--force to overwrite\)/);

    const q = cfg.queues[0]!.queueId;
    const app = start(['app', '--config', file], 'pipe');
    const events: { name: string; body?: string; stored?: number }[] = [];
    const done = new Promise<void>((resolve) => {
      createInterface({ input: app.stdout! }).on('line', (l) => {
        const e = JSON.parse(l) as { name: string; body?: string; stored?: number };
        events.push(e);
        if (e.name === 'notification') app.stdin!.write('status\n');
        if (e.name === 'status') resolve();
      });
    });
    // All at once, before the app is ready: the lines wait for its ready event.
    app.stdin!.write(`unlock ${randomBytes(32).toString('hex')}\nactive\nsend ${q} hello from the docs\n`);
    await done;
    app.stdin!.end();
    expect(events[0]!.name).toBe('ready');
    expect(events.find((e) => e.name === 'notification')?.body).toBe('hello from the docs');
    expect(events.find((e) => e.name === 'status')?.stored).toBe(1);
    expect(events.some((e) => e.name === 'error')).toBe(false);
    const code = await new Promise((r) => (app.exitCode !== null ? r(app.exitCode) : app.once('exit', r)));
    expect(code).toBe(0);
    relay.kill('SIGTERM');
    expect(await new Promise((r) => relay.once('exit', r))).toBe(0);
  });
});
