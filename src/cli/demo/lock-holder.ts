import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';

/**
 * A separate process that takes an exclusive flock on the shared store.lock and keeps it,
 * as `flock store.lock sleep N` (flock(1)) would: it blocks until the lock is free (the app
 * or the NSE may hold it), holds it `holdMs`, then exits and the kernel releases it. Plain
 * node + fs-ext (the lock's own binding) so the demo needs no util-linux.
 */
const SCRIPT = `
const fs = require('node:fs');
const { flockSync } = require(process.argv[1]);
const fd = fs.openSync(process.argv[2], 'a+');
flockSync(fd, 'ex');
process.stdout.write('held\\n');
setTimeout(() => process.exit(0), Number(process.argv[3]));
`;

export interface LockHold {
  pid: number;
  /** Resolves when the holder has the lock (false if it exited or was killed first). */
  held: Promise<boolean>;
  /** Resolves once the process is gone (the lock is free). */
  exited: Promise<void>;
  /** SIGKILL (the kernel releases the flock with the process). */
  kill(): void;
}

export function holdLockFromOutside(lockPath: string, holdMs: number): LockHold {
  const fsExt = createRequire(import.meta.url).resolve('fs-ext');
  const child: ChildProcess = spawn(process.execPath, ['-e', SCRIPT, fsExt, lockPath, String(holdMs)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const held = new Promise<boolean>((resolve) => {
    child.stdout!.on('data', (d: Buffer) => {
      if (d.toString().includes('held')) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  child.on('error', () => {});
  return {
    pid: child.pid ?? -1,
    held,
    exited,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
