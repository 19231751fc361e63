/**
 * `nsekit test DIR` (issue 14 item 14): scenario tests in a folder outside test/, importing the
 * test-author API as 'nsekit/test', are found and run; a failing expectation shows the matcher's
 * message (problems, run folder, replay).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { reapCli, runCli } from '../helpers/cli.js';

const nsekit = (args: string[], cwd: string) => runCli(args, { cwd, timeoutMs: 110_000 });

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'nsekit-test-cmd-'));
afterAll(() => {
  reapCli();
  rmSync(root, { recursive: true, force: true });
});

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
