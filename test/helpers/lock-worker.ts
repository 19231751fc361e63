/**
 * A real child process driving one CrossProcessLock, for test/mp/lock*.test.ts.
 *
 * Parent side: `spawnLockWorker()` returns a driver with `call(cmd)` (one reply
 * per command, correlated by id) and `next(pred)` for unsolicited events
 * (yield-requested, lost). Child side: run with `--lock-worker`; commands arrive
 * over IPC. Always `await w.kill()` in afterEach.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { CrossProcessLock } from '../../src/node/lock/index.js';

export type WorkerCmd =
  | { cmd: 'open'; backend: 'flock' | 'lease'; lockPath: string; opts?: Record<string, number> }
  | { cmd: 'acquire'; timeoutMs?: number }
  | { cmd: 'release'; wrote?: boolean }
  | { cmd: 'count'; counterPath: string; n: number; timeoutMs?: number }
  | { cmd: 'watchYield'; autoRelease?: boolean }
  | { cmd: 'requestYield' }
  | { cmd: 'withdrawYield' }
  | { cmd: 'generation' }
  | { cmd: 'held' };

export interface WorkerEvent {
  ev: string;
  id?: number;
  [k: string]: unknown;
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const SELF = fileURLToPath(import.meta.url);

export interface LockWorker {
  readonly pid: number;
  readonly events: WorkerEvent[];
  call(cmd: WorkerCmd): Promise<WorkerEvent>;
  next(pred: (e: WorkerEvent) => boolean, timeoutMs?: number): Promise<WorkerEvent>;
  kill(): Promise<void>;
  readonly child: ChildProcess;
}

export async function spawnLockWorker(): Promise<LockWorker> {
  const child = spawn(process.execPath, ['--import', 'tsx', SELF, '--lock-worker'], {
    cwd: REPO,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const events: WorkerEvent[] = [];
  const waiters: Array<{ pred: (e: WorkerEvent) => boolean; resolve: (e: WorkerEvent) => void }> = [];
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  child.on('message', (m) => {
    const e = m as WorkerEvent;
    events.push(e);
    for (const w of [...waiters]) if (w.pred(e)) waiters.splice(waiters.indexOf(w), 1), w.resolve(e);
  });
  const next = (pred: (e: WorkerEvent) => boolean, timeoutMs = 30_000): Promise<WorkerEvent> => {
    const seen = events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`lock worker ${child.pid}: no matching event in ${timeoutMs} ms`)), timeoutMs);
      waiters.push({ pred, resolve: (e) => (clearTimeout(t), resolve(e)) });
      void exit.then(() => setTimeout(() => reject(new Error(`lock worker ${child.pid} exited`)), 50));
    });
  };
  let seq = 0;
  const w: LockWorker = {
    child,
    events,
    get pid() {
      return child.pid!;
    },
    next,
    call(cmd) {
      const id = ++seq;
      child.send({ ...cmd, id });
      return next((e) => e.id === id);
    },
    async kill() {
      if (!exited) child.kill('SIGKILL');
      await exit;
    },
  };
  await next((e) => e.ev === 'ready');
  return w;
}

async function childMain(): Promise<void> {
  const { createLock } = await import('../../src/node/lock/index.js');
  const { nodeClock } = await import('../../src/node/host.js');
  const send = (e: WorkerEvent): void => void process.send?.(e);
  const host = {
    clock: nodeClock,
    failpoints: { hit() {} },
    log: {
      log(level: string, tag: string, msg: string, fields?: Record<string, unknown>) {
        if (level === 'error') send({ ev: 'log', level, tag, msg, fields });
      },
    },
  };
  let lock: CrossProcessLock | undefined;
  const L = (): CrossProcessLock => lock ?? (() => { throw new Error('open first'); })();
  const fail = (id: number, e: unknown): void =>
    send({ ev: 'error', id, code: (e as { code?: string }).code, message: String(e), details: (e as { details?: unknown }).details });

  process.on('message', async (raw) => {
    const m = raw as WorkerCmd & { id: number };
    try {
      switch (m.cmd) {
        case 'open':
          lock = createLock(m.backend, m.lockPath, { host, ...(m.opts ?? {}) });
          return send({ ev: 'opened', id: m.id });
        case 'acquire': {
          const g = await L().acquire(m.timeoutMs === undefined ? undefined : { timeoutMs: m.timeoutMs });
          return send({ ev: 'acquired', id: m.id, ...g });
        }
        case 'release':
          await L().release({ wrote: m.wrote ?? false });
          return send({ ev: 'released', id: m.id });
        case 'count': {
          // Read-modify-write with an event-loop turn inside the critical section:
          // without mutual exclusion increments get lost.
          const order: number[] = [];
          for (let i = 0; i < m.n; i++) {
            await L().withLock(
              async () => {
                const v = Number(readFileSync(m.counterPath, 'utf8') || '0');
                await new Promise((r) => setImmediate(r));
                writeFileSync(m.counterPath, String(v + 1));
                order.push(v);
              },
              m.timeoutMs === undefined ? undefined : { timeoutMs: m.timeoutMs },
            );
          }
          return send({ ev: 'counted', id: m.id, values: order });
        }
        case 'watchYield':
          L().onYieldRequested(() => {
            send({ ev: 'yield-requested', held: L().held });
            if (m.autoRelease && L().held) void L().release({ wrote: true }).then(() => send({ ev: 'yielded' }));
          });
          return send({ ev: 'watching', id: m.id });
        case 'requestYield':
          L().requestYield();
          return send({ ev: 'requested', id: m.id });
        case 'withdrawYield':
          L().withdrawYield();
          return send({ ev: 'withdrawn', id: m.id });
        case 'generation':
          return send({ ev: 'generation', id: m.id, value: L().generation() });
        case 'held':
          return send({ ev: 'held', id: m.id, value: L().held });
      }
    } catch (e) {
      fail(m.id, e);
    }
  });
  process.on('disconnect', () => process.exit(0));
  send({ ev: 'ready', pid: process.pid });
}

if (process.argv.includes('--lock-worker')) void childMain();
