import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

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
