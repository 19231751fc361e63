import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The CLI entry a user runs (`node bin/nsekit.js …`). */
export const NSEKIT_BIN = fileURLToPath(new URL('../../bin/nsekit.js', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

const live = new Set<ChildProcess>();

/**
 * Run the CLI to its exit, bounded: past `timeoutMs` it is SIGKILLed and the promise rejects with
 * what it printed. No colour codes, so output can be matched. Call `reapCli` in `afterAll`.
 */
export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [NSEKIT_BIN, ...args], {
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
    });
    live.add(c);
    let stdout = '';
    let stderr = '';
    c.stdout!.on('data', (d) => (stdout += d));
    c.stderr!.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      c.kill('SIGKILL');
      reject(new Error(`nsekit ${args.join(' ')}: no exit in ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    c.on('exit', (code) => {
      clearTimeout(t);
      live.delete(c);
      resolve({ code, stdout, stderr });
    });
  });
}

/** SIGKILL every CLI process still running (a test that failed mid-run leaves none behind). */
export function reapCli(): void {
  for (const c of live) c.kill('SIGKILL');
  live.clear();
}
