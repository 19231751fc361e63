/**
 * `nsekit demo` as a user runs it (a child process, its own process group so everything it
 * spawned is reaped even when a test fails), and faults brought from outside while it runs:
 * SIGKILL of the app or of the NSE (the measurements: the old demo waited 20–60 s and
 * exited 1 with one PROTO_TIMEOUT line, the app never relaunched), and the seeded chaos loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { PendingInboxFile } from '../../src/node/pending-inbox/index.js';

const BIN = fileURLToPath(new URL('../../bin/nsekit.js', import.meta.url));
const children: ChildProcess[] = [];

interface Run {
  code: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first stdout line matching `re` (bounded). */
  line: (re: RegExp, timeoutMs?: number) => Promise<RegExpMatchArray>;
}

function start(args: string[], timeoutMs = 150_000): Run & { pid: number } {
  const c = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(c);
  let stdout = '';
  let stderr = '';
  c.stdout!.on('data', (d) => (stdout += d));
  c.stderr!.on('data', (d) => (stderr += d));
  const t = setTimeout(() => killGroup(c), timeoutMs);
  const code = new Promise<number | null>((resolve) =>
    c.on('exit', (n) => {
      clearTimeout(t);
      resolve(n);
    }),
  );
  const line = (re: RegExp, ms = 60_000) =>
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const m = stdout.match(re);
        if (!m) return false;
        clearTimeout(to);
        c.stdout!.off('data', check);
        resolve(m);
        return true;
      };
      const to = setTimeout(() => reject(new Error(`no stdout line ${re} in ${ms} ms:\n${stdout}`)), ms);
      if (!check()) c.stdout!.on('data', check);
    });
  return { pid: c.pid!, code, stdout: () => stdout, stderr: () => stderr, line };
}

function killGroup(c: ChildProcess): void {
  try {
    process.kill(-c.pid!, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

afterEach(async () => {
  for (const c of children.splice(0)) {
    killGroup(c); // the demo's app, NSE and lock holder are in its group
    if (c.exitCode === null && c.signalCode === null) await new Promise((r) => c.once('exit', r));
  }
});

/**
 * The demo's live app or NSE process, found as a user would (ps): a child of the demo running
 * the role's entry (bundle `app-….cjs` / `nse-….cjs`, or the `.ts` source). Not from the demo's
 * output, so the old demo can be faulted the same way.
 */
function childOf(parent: number, role: 'app' | 'nse'): number | undefined {
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== parent || stat.slice(stat.lastIndexOf(')') + 2)[0] === 'Z') continue;
      const args = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0');
      if (args.some((a) => basename(a).startsWith(`${role}-`) && a.endsWith('.cjs')) || args.some((a) => a.endsWith(`/${role}/main.ts`))) return Number(name);
    } catch {
      /* exited meanwhile */
    }
  }
  return undefined;
}

async function waitChild(parent: number, role: 'app' | 'nse'): Promise<number> {
  for (let i = 0; i < 1_000; i++) {
    const pid = childOf(parent, role);
    if (pid) return pid;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`no ${role} process under pid ${parent}`);
}

const verdict = (out: string) => out.trim().split('\n').pop()!;

describe('e2e: nsekit demo', () => {
  it('--help prints the usage on stdout and exits 0; an unknown option prints it on stderr and exits 2', async () => {
    const help = start(['demo', '--help']);
    expect(await help.code).toBe(0);
    expect(help.stdout()).toContain('usage: nsekit demo');
    expect(help.stdout()).toContain('--chaos');
    const bogus = start(['demo', '--bogus']);
    expect(await bogus.code).toBe(2);
    expect(bogus.stderr()).toContain('nsekit demo: CLI_USAGE: unknown option --bogus');
    expect(bogus.stderr()).toContain('usage: nsekit demo');
    expect(bogus.stdout()).toBe('');
    const bad = start(['demo', '--chaos', '--minutes', 'soon']);
    expect(await bad.code).toBe(2);
    expect(bad.stderr()).toContain('nsekit demo: CLI_BAD_VALUE: --minutes needs');
  });

  it('the app SIGKILLed from outside in the background: the next foreground relaunches it, nothing is lost', async () => {
    const r = start(['demo']);
    await r.line(/-- background: /);
    process.kill(await waitChild(r.pid, 'app'), 'SIGKILL');
    const code = await r.code;
    const out = r.stdout();
    expect(code, out + r.stderr()).toBe(0);
    // 13 when the app died before the user's message was in its outbox (not counted), else 14.
    expect(verdict(out)).toMatch(/^demo: (1[34]) sent, \1 delivered \(.*\), 0 lost, 0 duplicated — OK$/);
    // Relaunched once, into the background, by the refresh window (the silent pushes and the last foreground find it running).
    expect(out).toContain('app launches: 2');
    expect(out).toContain('-- refresh window: ');
    expect(out).toMatch(/silent push 4: throttled \(429\) → visible push sent instead/);
    expect(out).toContain('freeze app: not running');
    expect(out).toContain('NSE → inbox → store');
  });

  it('the NSE SIGKILLed after its locked-stage inbox writes: the records are imported on unlock and activation', async () => {
    const r = start(['demo']);
    const dir = (await r.line(/shared dir (\S+)/))[1]!;
    await r.line(/-- locked: /);
    const nsePid = await waitChild(r.pid, 'nse');
    // Kill it as soon as the three locked-stage records are in the pending inbox (before it suspends).
    const inbox = join(dir, 'inbox.jsonl');
    const records = () => (existsSync(inbox) ? PendingInboxFile.read(inbox).records.length : 0);
    for (let i = 0; i < 1_000 && records() < 3; i++) await new Promise((res) => setTimeout(res, 10));
    expect(records()).toBe(3);
    process.kill(nsePid, 'SIGKILL');
    const code = await r.code;
    const out = r.stdout();
    expect(code, out + r.stderr()).toBe(0);
    // The third record's message may not have been ACKed when the NSE died: it is then still at the
    // relay, and the app may store it from a fetch before its import reaches the record (the import
    // then finds a duplicate). Either way it is delivered once; the first two come from the inbox.
    const m = /^demo: 14 sent, 14 delivered \(store (\d+), inbox→store (\d+)\), 0 lost, 0 duplicated — OK$/.exec(verdict(out));
    expect(m, out).not.toBeNull();
    expect(Number(m![1]) + Number(m![2])).toBe(14);
    expect(Number(m![2])).toBeGreaterThanOrEqual(2);
    expect(out).toContain('pending inbox left: 0');
  });

  it('background life: refresh on, a message written in the app as it leaves goes out in a refresh window; silent pushes are windows without a GET until the throttled one falls back to the NSE', async () => {
    const r = start(['demo']);
    const code = await r.code;
    const out = r.stdout();
    expect(code, out + r.stderr()).toBe(0);
    const lines = out.split('\n');
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    // The stages, in the walk's order.
    const order = [
      /background refresh turned on in Settings: the app submitted its refresh request/,
      /^-- background: /,
      /the user wrote "written in the app #1" and left the app: in the outbox \(sending…\), held: no network in the background/,
      /^-- frozen: /,
      /^-- refresh window: /,
      /window: done; outbox items sent: 1; app fetches: 0; freeze app: frozen/,
      /m6 reached the relay and came back to the device/,
      /^-- silent push: /,
      /silent push 1: window for the app; app fetches: 0; m9 still at the relay; freeze app: frozen/,
      /silent push 3: window for the app; app fetches: 0; m9 still at the relay/,
      /silent push 4: throttled \(429\) → visible push sent instead/,
      /m9 fetched by the push \(nse stored\); gateway throttled: 1/,
      /^-- locked: /,
    ].map(at);
    expect(order.every((i) => i >= 0), out).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    // Both are rows of the table and of the verdict, each stored once.
    expect(out).toMatch(/ m6 +app send \(bg\) +NSE → store /);
    expect(out).toMatch(/ m9 +silent push +NSE → store /);
    expect(out).toContain('0xdead10cc violations: 0');
    expect(out).toContain('app launches: 1');
    expect(verdict(out)).toMatch(/^demo: 14 sent, 14 delivered \(store 11, inbox→store 3\), 0 lost, 0 duplicated — OK$/);
  });

  it('--devices 2: every message is on both devices exactly once; the verdict counts both', async () => {
    const r = start(['demo', '--devices', '2']);
    const code = await r.code;
    const out = r.stdout();
    expect(code, out + r.stderr()).toBe(0);
    expect(verdict(out)).toMatch(/^demo: 14 sent \(13 to each of 2 devices, 1 from device 1's app\), 14 delivered \(.*\), 0 lost, 0 duplicated — OK$/);
    // Device 2 spent the walk frozen in the background: its NSE stored every copy (the app's own message is device 1's alone).
    expect(out).toMatch(/device 2: 13 of 13 in its store \(app \d+, NSE \d+\); 0 lost, 0 duplicated; integrity ok; pending inbox left 0; 0xdead10cc violations 0/);
    const bad = start(['demo', '--devices', '9']);
    expect(await bad.code).toBe(2);
    expect(bad.stderr()).toContain('nsekit demo: CLI_BAD_VALUE: --devices needs an integer 1..8');
  });

  // Seed 6 draws a stop, a kill and a lock hold in its first 2 s (the schedule is the seed's alone).
  it('--chaos (0.3 min, seed 6): signals and outside lock holds happened; after healing 0 lost, 0 duplicated', async () => {
    const r = start(['demo', '--chaos', '--minutes', '0.3', '--seed', '6'], 170_000);
    const code = await r.code;
    const out = r.stdout();
    expect(code, out + r.stderr()).toBe(0);
    expect(verdict(out)).toMatch(/^demo: (\d+) sent, \1 delivered \(.*\), 0 lost, 0 duplicated — OK$/);
    const c = out.match(/SIGSTOP app (\d+) NSE (\d+); SIGCONT app (\d+) NSE (\d+); SIGKILL app (\d+) NSE (\d+); lock held from outside (\d+)×/);
    expect(c, out).not.toBeNull();
    const [stopApp, stopNse, , , killApp, killNse, holds] = c!.slice(1).map(Number) as number[];
    expect(stopApp! + stopNse!).toBeGreaterThan(0);
    expect(killApp! + killNse!).toBeGreaterThan(0);
    expect(holds).toBeGreaterThan(0);
    // At least one whole round (how many fit depends on how long the faults stall the stages).
    expect(Number(verdict(out).match(/^demo: (\d+) sent/)![1])).toBeGreaterThanOrEqual(12);
  }, 180_000);
});
