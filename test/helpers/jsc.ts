import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';

/** Where Debian's libjavascriptcoregtk-*-bin puts the JavaScriptCore shell. */
const CANDIDATES = ['/usr/bin/jsc', '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.0/jsc', '/usr/lib/aarch64-linux-gnu/webkit2gtk-4.0/jsc'];

/** Path of the `jsc` shell, or null when it is not installed (tests then skip visibly). */
export function findJsc(): string | null {
  const env = process.env.NSEKIT_JSC;
  if (env && existsSync(env)) return env;
  return CANDIDATES.find((p) => existsSync(p)) ?? null;
}

export interface JscResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Run `jsc [flags] files… [-- args]` with a hard timeout. The child is killed
 * (SIGKILL) on timeout and always reaped before the promise settles.
 */
export function runJsc(
  files: string[],
  opts: { flags?: string[]; args?: string[]; timeoutMs?: number; cwd?: string } = {},
): Promise<JscResult> {
  const jsc = findJsc();
  if (!jsc) return Promise.reject(new Error('jsc not installed'));
  const argv = [...(opts.flags ?? []), ...files, ...(opts.args?.length ? ['--', ...opts.args] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(jsc, argv, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Peak footprint in bytes from `jsc --footprint` output, or null if absent. */
export function parseFootprint(out: string): number | null {
  const m = /Peak Footprint:\s*(\d+)/.exec(out);
  return m ? Number(m[1]) : null;
}

/** Anonymous resident memory (RssAnon) of a live process in bytes, or null without /proc. */
export function rssAnon(pid: number): number | null {
  try {
    const m = /RssAnon:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export interface JscAnonResult extends JscResult {
  /** Highest RssAnon seen, sampling every ~1 ms and once more at `marker`; null without /proc. */
  peakAnon: number | null;
  /** CPU time (user + system, all threads) the process had used when it printed `marker`, ms; null without /proc. */
  cpuMs: number | null;
}

/**
 * CPU time a live process has used, in ms: the sum over its threads of the time on CPU from
 * /proc/<pid>/task/<tid>/schedstat (ns; the GC's helper threads count too). Falls back to
 * /proc/<pid>/stat utime + stime (10 ms ticks) without schedstat; null without /proc.
 */
export function cpuTimeMs(pid: number): number | null {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    }
    if (Number.isFinite(ns) && ns > 0) return ns / 1e6;
  } catch {
    // no schedstat: ticks below
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of stat(5); f[0] is field 3 (state).
    return (Number(f[11]) + Number(f[12])) * 10;
  } catch {
    return null;
  }
}

/**
 * Run jsc while sampling its anonymous (private, non-file-backed) resident
 * memory: the Linux counterpart of iOS's phys_footprint, which charges a
 * process for its anonymous/dirty pages and not for clean file-backed ones
 * (the JavaScriptCore library's code and data). jsc's own `--footprint` peak
 * on Linux is getrusage's ru_maxrss, which counts those library pages too.
 *
 * The script must print `marker` on a line when its work is done and then
 * block in `readline()`: the last sample is taken there, then a newline on
 * stdin lets it exit.
 */
export function runJscSampled(
  files: string[],
  opts: { flags?: string[]; timeoutMs?: number; marker?: string } = {},
): Promise<JscAnonResult> {
  const jsc = findJsc();
  if (!jsc) return Promise.reject(new Error('jsc not installed'));
  const marker = opts.marker ?? 'NSEKIT_END';
  return new Promise((resolve, reject) => {
    const child = spawn(jsc, [...(opts.flags ?? []), ...files], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let peakAnon: number | null = null;
    let cpuMs: number | null = null;
    let released = false;
    const sample = () => {
      if (released || child.pid === undefined) return;
      const a = rssAnon(child.pid);
      if (a !== null) peakAnon = Math.max(peakAnon ?? 0, a);
    };
    sample();
    const poll = setInterval(sample, 1);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!released && stdout.includes(marker)) {
        sample();
        if (child.pid !== undefined) cpuMs = cpuTimeMs(child.pid);
        released = true;
        child.stdin.end('\n');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs ?? 30_000);
    child.on('error', (e) => {
      clearInterval(poll);
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearInterval(poll);
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, peakAnon: released ? peakAnon : null, cpuMs: released ? cpuMs : null });
    });
  });
}
