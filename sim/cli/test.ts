/**
 * `nsekit test [DIR] [-- VITEST ARGS]`: runs the scenario tests under DIR (default: the current
 * folder) with the exported config sim/vitest.config.ts, wherever DIR sits in the checkout.
 * The exit code is vitest's (0 all passed, 1 a test failed); a usage error is 2 (docs/cli.md).
 */
import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NsekitError } from '../../src/core/errors.js';
import { parseFlags, reportCliError } from '../../src/cli/args.js';

export const TEST_USAGE = `usage: nsekit test [DIR] [-- VITEST ARGS]
  runs every *.test.ts under DIR (default: the current folder) with sim/vitest.config.ts: no need to
  live in test/; test files import the test-author API as 'nsekit/test' (runScenario, scenario, runFast,
  the toMeetExpectations matcher). Arguments after -- go to vitest (a file filter, -t PATTERN, a reporter).
exit codes: vitest's (0 all passed, 1 a test failed), 2 usage error (docs/cli.md)`;

const CONFIG = fileURLToPath(new URL('../vitest.config.ts', import.meta.url));

export function parseTestArgs(argv: readonly string[]): { dir: string; rest: string[] } | null {
  const cut = argv.indexOf('--');
  const own = cut < 0 ? argv : argv.slice(0, cut);
  const rest = cut < 0 ? [] : argv.slice(cut + 1);
  const p = parseFlags(own, {}, 1);
  if (p.help) return null;
  const dir = resolve(p.positionals[0] ?? '.');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new NsekitError('CLI_BAD_VALUE', `DIR must be a folder, got ${JSON.stringify(p.positionals[0])}`);
  return { dir, rest };
}

export async function runTestCli(argv: string[], out = (s: string) => process.stdout.write(s + '\n'), err = (s: string) => process.stderr.write(s + '\n')): Promise<number> {
  let a: ReturnType<typeof parseTestArgs>;
  try {
    a = parseTestArgs(argv);
  } catch (e) {
    return reportCliError('test', e, TEST_USAGE, err);
  }
  if (a === null) {
    out(TEST_USAGE);
    return 0;
  }
  const vitest = join(dirname(createRequire(import.meta.url).resolve('vitest/package.json')), 'vitest.mjs');
  const child = spawn(process.execPath, [vitest, 'run', '--config', CONFIG, '--dir', a.dir, ...a.rest], { stdio: 'inherit' });
  // Ctrl-C reaches the child through the terminal; a SIGTERM to us is passed on, so nothing is left running.
  const onTerm = () => child.kill('SIGTERM');
  process.once('SIGTERM', onTerm);
  return new Promise<number>((res) => {
    child.on('exit', (code, signal) => {
      process.off('SIGTERM', onTerm);
      res(code ?? (signal ? 1 : 0));
    });
  });
}
