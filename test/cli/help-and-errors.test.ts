/**
 * Every command's --help, an unknown flag, and one bad value of each kind, run through the
 * real entry (bin/nsekit.js): which stream, which exit code, which message (docs/cli.md,
 * "Errors and exit codes").
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseFlags } from '../../src/cli/args.js';
import { PRODUCT_USAGE } from '../../src/cli/commands.js';
import { harnessLine, parseSimArgs, SIM_USAGE } from '../../sim/cli/args.js';
import { EXPLORE_USAGE, parseArgs as parseExploreArgs } from '../../sim/explore/cli.js';
import { MERGE_USAGE } from '../../sim/explore/merge.js';
import { TEST_USAGE } from '../../sim/cli/test.js';
import { parseQueueCreateArgs, QUEUE_USAGE } from '../../src/cli/queue.js';
import { parseRelayArgs, parsePushGatewayArgs, RELAY_USAGE, PUSH_GATEWAY_USAGE } from '../../src/cli/relay.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin/nsekit.js');
const VERSION = (JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
const dir = mkdtempSync(join(tmpdir(), 'nsekit-cli-'));
const children = new Set<ChildProcess>();
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}
function nsekit(args: string[], opts: { closeStdoutEarly?: boolean } = {}): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [BIN, ...args], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(c);
    let stdout = '';
    let stderr = '';
    // A reader that is gone before the command writes (`| head -0`, a closed pager): every write fails with EPIPE.
    if (opts.closeStdoutEarly) c.stdout!.destroy();
    else c.stdout!.on('data', (d) => (stdout += d));
    c.stderr!.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`nsekit ${args.join(' ')}: no exit in 50 s\n${stdout}\n${stderr}`));
    }, 50_000);
    c.on('exit', (code) => {
      clearTimeout(t);
      children.delete(c);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the cases a few at a time (each is a Node start-up; the machine is small). */
async function all<T>(items: T[], f: (x: T) => Promise<void>, lanes = 4): Promise<void> {
  const q = [...items];
  await Promise.all(Array.from({ length: lanes }, async () => {
    for (let x = q.shift(); x !== undefined; x = q.shift()) await f(x);
  }));
}

// `explore merge` is a subcommand with its own usage; demo's --help/--bogus are checked before it starts.
const COMMANDS: { cmd: string[]; usage: string; usageExit: number }[] = [
  ...['demo', 'relay', 'push-gateway', 'queue', 'app', 'nse'].map((c) => ({ cmd: [c], usage: `usage: nsekit ${c}`, usageExit: 2 })),
  { cmd: ['sim'], usage: 'usage: nsekit sim', usageExit: 4 },
  { cmd: ['explore'], usage: 'usage: nsekit explore', usageExit: 4 },
  { cmd: ['explore', 'merge'], usage: 'usage: nsekit explore merge', usageExit: 4 },
  { cmd: ['test'], usage: 'usage: nsekit test', usageExit: 2 },
];

describe('nsekit: --help, --version, unknown flags (real entry, every command)', () => {
  it('--version and -V print the package version on stdout, exit 0', async () => {
    for (const v of ['--version', '-V']) {
      const r = await nsekit([v]);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      expect(r.stdout.trim()).toBe(`nsekit ${VERSION}`);
    }
  });

  it('every command: --help prints its usage on stdout and exits 0; an unknown flag is CLI_USAGE with the usage on stderr', { timeout: 180_000 }, async () => {
    await all(COMMANDS, async ({ cmd, usage, usageExit }) => {
      const h = await nsekit([...cmd, '--help']);
      expect(h.code, `${cmd.join(' ')} --help: ${h.stderr}`).toBe(0);
      expect(h.stdout, cmd.join(' ')).toContain(usage);
      expect(h.stderr, cmd.join(' ')).toBe('');
      const u = await nsekit([...cmd, ...(cmd[0] === 'queue' ? ['create'] : []), '--bogus']);
      expect(u.code, `${cmd.join(' ')} --bogus: ${u.stderr}`).toBe(usageExit);
      expect(u.stdout, cmd.join(' ')).toBe('');
      expect(u.stderr, cmd.join(' ')).toContain(`nsekit ${cmd.join(' ')}: CLI_USAGE: unknown option --bogus\n`);
      expect(u.stderr, cmd.join(' ')).toContain(usage);
    });
    const top = await nsekit(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['demo', 'relay', 'push-gateway', 'queue create', 'app', 'nse', 'sim', 'explore', 'test', '--version']) expect(top.stdout).toContain(`nsekit ${c}`);
    const unknown = await nsekit(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('nsekit: CLI_USAGE: unknown command "frobnicate"');
  });
});

describe('nsekit: one bad value of each kind names the flag, the value or the file', () => {
  const bad = (name: string, body: string) => {
    const f = join(dir, name);
    writeFileSync(f, body);
    return f;
  };
  const notJson = bad('broken.json', '{"sharedDir": "/tmp/x",');
  const wrongType = bad('wrong-type.json', JSON.stringify({ sharedDir: 5, relayUrl: 'ws://127.0.0.1:1/', queues: [] }));
  const badQueue = bad('bad-queue.json', JSON.stringify({ sharedDir: '/tmp/x', relayUrl: 'ws://127.0.0.1:1/', queues: [{ queueId: 'q', recipientKey: 'r', e2eKey: 'zz' }] }));
  const CASES: { args: string[]; code: number; err: RegExp }[] = [
    { args: ['relay', '--db', 'r.db', '--port', '70000'], code: 2, err: /^nsekit relay: CLI_BAD_VALUE: --port must be an integer in 0\.\.65535, got "70000"\n$/ },
    { args: ['relay'], code: 2, err: /^nsekit relay: CLI_USAGE: --db PATH is required.*\nusage: nsekit relay/s },
    { args: ['relay', '--db', '/nonexistent-nsekit-dir/r.db'], code: 1, err: /^nsekit relay: CLI_IO: --db \/nonexistent-nsekit-dir\/r\.db: directory \/nonexistent-nsekit-dir does not exist\n$/ },
    { args: ['relay', '--db', '/proc/nsekit-relay.db'], code: 1, err: /^nsekit relay: CLI_IO: --db \/proc\/nsekit-relay\.db: / },
    { args: ['relay', '--db', dir], code: 1, err: /CLI_IO: --db .* is a directory, not a database file/ },
    { args: ['relay', '--db', 'r.db', '--rate-close-after', '0'], code: 2, err: /CLI_BAD_VALUE: --rate-close-after must be an integer in 1\.\.100000, got "0"/ },
    { args: ['push-gateway', '--port', '-1'], code: 2, err: /^nsekit push-gateway: CLI_BAD_VALUE: --port must be an integer in 0\.\.65535, got "-1"\n$/ },
    { args: ['push-gateway', '--port'], code: 2, err: /^nsekit push-gateway: CLI_USAGE: --port needs a value\n/ },
    { args: ['app'], code: 2, err: /^nsekit app: CLI_USAGE: --config FILE is required/ },
    { args: ['app', '--config', join(dir, 'missing.json')], code: 2, err: /^nsekit app: CLI_CONFIG: \S+missing\.json: no such file\n$/ },
    { args: ['nse', '--config', notJson], code: 2, err: /^nsekit nse: CLI_CONFIG: \S+broken\.json: not valid JSON/ },
    { args: ['app', '--config', wrongType], code: 2, err: /^nsekit app: CLI_CONFIG: \S+wrong-type\.json: sharedDir must be a non-empty string, got 5\n$/ },
    { args: ['nse', '--config', badQueue], code: 2, err: /^nsekit nse: CLI_CONFIG: \S+bad-queue\.json: queues\[0\]\.e2eKey must be 64 hex digits/ },
    { args: ['nse', '--config', dir], code: 2, err: /CLI_CONFIG: .* is a directory, not a config file/ },
    { args: ['queue', 'create', '--relay', 'http://127.0.0.1:1/'], code: 2, err: /^nsekit queue: CLI_BAD_VALUE: --relay must be a ws:\/\/ URL, got "http:\/\/127\.0\.0\.1:1\/"\n$/ },
    { args: ['queue', 'create', '--relay', 'ws://127.0.0.1:1/'], code: 1, err: /^nsekit queue: CLI_IO: --relay ws:\/\/127\.0\.0\.1:1\/: cannot connect/ },
    { args: ['queue', 'drop'], code: 2, err: /^nsekit queue: CLI_USAGE: unknown subcommand "drop"/ },
    { args: ['sim', 'x', '--seed', 'abc'], code: 4, err: /^nsekit sim: CLI_BAD_VALUE: --seed must be a non-negative integer, got "abc"\n$/ },
    { args: ['sim', 'x', '--mode', 'slow'], code: 4, err: /^nsekit sim: CLI_BAD_VALUE: --mode must be one of real, fast, got "slow"\n$/ },
    { args: ['sim', 'x', '--broken', 'nope'], code: 4, err: /^nsekit sim: CLI_BAD_VALUE: --broken must be one of ack-before-write, / },
    { args: ['sim', 'x', '--mode', 'fast', '--trigger-timeout-ms', '5'], code: 4, err: /CLI_USAGE: --trigger-timeout-ms applies to --mode real only/ },
    { args: ['sim'], code: 4, err: /^nsekit sim: CLI_USAGE: missing scenario/ },
    { args: ['sim', dir, '--mode', 'fast'], code: 4, err: /^nsekit sim: SIM_NO_SCENARIO: \S+ is a directory, not a scenario file \(it holds bad-queue\.json, broken\.json/ },
    { args: ['sim', join(dir, 'nope.json'), '--mode', 'fast'], code: 4, err: /^nsekit sim: SIM_NO_SCENARIO: no scenario file \S+nope\.json/ },
    { args: ['explore', '--concurrency', '0'], code: 4, err: /^nsekit explore: CLI_BAD_VALUE: --concurrency must be an integer >= 1, got "0"\n$/ },
    { args: ['explore', '--runs', '0'], code: 4, err: /CLI_BAD_VALUE: --runs must be an integer >= 1, got "0"/ },
    { args: ['explore', '--shard', '5/4', '--seed', '1'], code: 4, err: /CLI_BAD_VALUE: --shard must be i\/n with 1 <= i <= n/ },
    { args: ['explore', '--shard', '1/4'], code: 4, err: /CLI_USAGE: --shard needs --seed/ },
    { args: ['explore', 'merge', join(dir, 'no-such-out')], code: 4, err: /^nsekit explore merge: CLI_IO: \S+no-such-out: no summary\.json/ },
  ];

  it('each case: exit code, nothing on stdout, one line CODE: message on stderr, no stack trace', { timeout: 240_000 }, async () => {
    await all(CASES, async (c) => {
      const r = await nsekit(c.args);
      const label = `nsekit ${c.args.join(' ')} → ${r.code}\n${r.stderr}`;
      expect(r.code, label).toBe(c.code);
      expect(r.stdout, label).toBe('');
      expect(r.stderr, label).toMatch(c.err);
      expect(r.stderr, label).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/); // no stack frames
    });
  });
});

describe('nsekit: a port in use', () => {
  it('relay and push-gateway name the port (CLI_IO, exit 1) and start nothing', { timeout: 60_000 }, async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as AddressInfo).port;
    try {
      for (const args of [['relay', '--db', 'busy.db', '--port', String(port)], ['push-gateway', '--port', String(port)]]) {
        const r = await nsekit(args);
        expect(r.code, r.stderr).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr).toMatch(new RegExp(`^nsekit ${args[0]}: CLI_IO: --port ${port}: address 127\\.0\\.0\\.1:${port} is in use\n$`, 'm'));
      }
    } finally {
      srv.close();
    }
  });
});

describe('nsekit: output to a reader that stops early', () => {
  it('no EPIPE stack when stdout is closed; the exit code is the run\'s own', { timeout: 120_000 }, async () => {
    const args = ['sim', 'second-push-mid-get', '--mode', 'fast', '--seed', '3'];
    const whole = await nsekit(args);
    expect(whole.stdout).toMatch(/^verdict: /m);
    const closed = await nsekit(args, { closeStdoutEarly: true });
    expect(closed.stderr).not.toMatch(/EPIPE|Error:/);
    expect(closed.code).toBe(whole.code);
    for (const a of [['--help'], ['sim', '--help']]) expect((await nsekit(a, { closeStdoutEarly: true })).code).toBe(0);
  });
});

describe('usage lines match the parsers (in-process)', () => {
  const flagsOf = (usage: string) => [...new Set([...usage.matchAll(/(?<![\w-])--[a-z][a-z-]*/g)].map((m) => m[0]))];

  it('every flag a usage line offers is accepted by its parser, and sim --help lists --mode', () => {
    expect(SIM_USAGE).toMatch(/--mode real\|fast/);
    const tries: [string, string, (argv: string[]) => unknown][] = [
      ['sim', SIM_USAGE, (argv) => parseSimArgs(['x', ...argv])],
      ['relay', RELAY_USAGE, (argv) => parseRelayArgs(argv)],
      ['push-gateway', PUSH_GATEWAY_USAGE, (argv) => parsePushGatewayArgs(argv)],
      ['queue', QUEUE_USAGE, (argv) => parseQueueCreateArgs(argv)],
      ['explore', EXPLORE_USAGE.replace(/nsekit explore merge.*\n/, ''), (argv) => parseExploreArgs(argv)],
      ['explore merge', MERGE_USAGE, (argv) => parseFlags(argv, { out: 'value', json: 'switch' }, Infinity)],
    ];
    for (const [cmd, usage, parse] of tries) {
      const flags = flagsOf(usage);
      expect(flags.length, cmd).toBeGreaterThan(0);
      for (const f of flags) {
        if (f === '--help') continue;
        // A value flag then gets a value; a switch is given alone. Either way: never "unknown option".
        let msg = '';
        try {
          parse([f]);
        } catch (e) {
          msg = (e as Error).message;
        }
        expect(msg, `${cmd} ${f}`).not.toMatch(/unknown option/);
      }
    }
    expect(() => parseFlags(['--nope'], {})).toThrow(/CLI_USAGE: unknown option --nope/);
  });

  it('docs/cli.md names every command and every flag of every usage', () => {
    const doc = readFileSync(join(REPO, 'docs/cli.md'), 'utf8');
    const usages: Record<string, string> = { ...PRODUCT_USAGE, sim: SIM_USAGE, explore: EXPLORE_USAGE, 'explore merge': MERGE_USAGE, test: TEST_USAGE };
    for (const [cmd, usage] of Object.entries(usages)) {
      expect(doc, cmd).toContain(`nsekit ${cmd}`);
      for (const f of flagsOf(usage)) expect(doc, `${cmd} ${f}`).toContain(f);
    }
    for (const code of ['CLI_USAGE', 'CLI_BAD_VALUE', 'CLI_CONFIG', 'CLI_IO']) expect(doc).toContain(code);
    expect(doc).not.toContain('…"'); // no placeholder in a config example
  });

  it('a harness line says its code once', () => {
    expect(harnessLine('step 3 (pause): SIM_TRIGGER_TIMEOUT: SIM_TRIGGER_TIMEOUT: nse:net.get.sent not reached in 5000 ms\n  at x')).toBe(
      'step 3 (pause): SIM_TRIGGER_TIMEOUT: nse:net.get.sent not reached in 5000 ms',
    );
  });
});
