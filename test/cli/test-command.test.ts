/**
 * `nsekit test DIR` (issue 14 item 14): scenario tests in a folder outside test/, importing the
 * test-author API as 'nsekit/test', are found and run; a failing expectation shows the matcher's
 * message (problems, run folder, replay).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin/nsekit.js');
const root = mkdtempSync(join(tmpdir(), 'nsekit-test-cmd-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

function nsekit(args: string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' } });
    children.add(c);
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d) => (stdout += d));
    c.stderr!.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`nsekit ${args.join(' ')}: no exit in 110 s\n${stdout}\n${stderr}`));
    }, 110_000);
    c.on('exit', (code) => {
      clearTimeout(t);
      children.delete(c);
      resolve({ code, stdout, stderr });
    });
  });
}

const TEST_FILE = (outDir: string, expectValid: boolean) => `import { expect, it } from 'vitest';
import { runScenario, scenario } from 'nsekit/test';

it('a race, in fast mode', async () => {
  const b = scenario('anywhere').background('app').send({ count: 1 }).foreground('app');
  const r = await runScenario(${expectValid ? 'b.expectValid()' : "b.expectViolations('no-loss')"}, { seed: 2, mode: 'fast', outDir: ${JSON.stringify(outDir)} });
  expect(r).toMeetExpectations();
});
`;

describe('nsekit test DIR', () => {
  it('runs *.test.ts in a folder outside test/ (nested, from another cwd) with the nsekit/test import', { timeout: 120_000 }, async () => {
    const dir = join(root, 'my-races', 'deep', 'er');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'anywhere.test.ts'), TEST_FILE(join(root, 'runs'), true));
    const r = await nsekit(['test', 'my-races'], root);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/anywhere\.test\.ts/);
    expect(r.stdout).toMatch(/Tests\s+1 passed/);
  });

  it('a failing expectation: exit 1, the matcher\'s problems, run folder and replay in the output', { timeout: 120_000 }, async () => {
    const dir = join(root, 'failing');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'unmet.test.ts'), TEST_FILE(join(root, 'runs'), false));
    const r = await nsekit(['test', dir], REPO);
    expect(r.code).toBe(1);
    const all = r.stdout + r.stderr;
    expect(all).toContain("scenario 'anywhere' seed 2 did not meet its expectations:");
    expect(all).toContain('expected violations not found: no-loss');
    expect(all).toMatch(/run folder: \S+anywhere\S+ \(report\.html\)/);
    expect(all).toMatch(/replay: nsekit sim \S+scenario\.json --seed 2 --mode fast/);
  });

  it('--help on stdout with exit 0; a DIR that is not a folder is CLI_BAD_VALUE, exit 2', { timeout: 60_000 }, async () => {
    const h = await nsekit(['test', '--help'], root);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^usage: nsekit test \[DIR\]/);
    const bad = await nsekit(['test', join(root, 'nope')], root);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toMatch(/^nsekit test: CLI_BAD_VALUE: DIR must be a folder, got "\S+nope"\n$/);
    const flag = await nsekit(['test', '--bogus'], root);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^nsekit test: CLI_USAGE: unknown option --bogus\nusage: nsekit test/);
  });
});
