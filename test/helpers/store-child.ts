/**
 * Parent side of test/helpers/store-worker.ts: a real child process with an
 * event log and event-based waits (no sleeps), plus a per-test fixture that
 * reaps every child (SIGKILL + await exit) even when the test failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { WorkerConfig, WorkerEvent } from './store-worker.js';

const WORKER = path.resolve('test/helpers/store-worker.ts');
export const KEY_HEX = '11'.repeat(32);

export class StoreChild {
  readonly events: WorkerEvent[] = [];
  readonly proc: ChildProcess;
  readonly exited: Promise<number | null>;
  private listeners = new Set<() => void>();
  constructor(cfg: WorkerConfig) {
    this.proc = spawn(process.execPath, ['--import', 'tsx', WORKER, JSON.stringify(cfg)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.proc.on('message', (m) => {
      this.events.push(m as WorkerEvent);
      for (const l of this.listeners) l();
    });
    this.exited = new Promise((res) => this.proc.once('exit', (code) => (res(code), this.listeners.forEach((l) => l()))));
  }
  waitFor(pred: (e: WorkerEvent) => boolean, what: string): Promise<WorkerEvent> {
    return new Promise((res, rej) => {
      const check = () => {
        const hit = this.events.find(pred);
        const err = this.events.find((e) => e.ev === 'error');
        if (hit) return done(() => res(hit));
        if (err) return done(() => rej(new Error(`worker error while waiting for ${what}: ${JSON.stringify(err)}`)));
        if (this.proc.exitCode !== null || this.proc.signalCode !== null) {
          return done(() => rej(new Error(`worker exited while waiting for ${what}`)));
        }
      };
      const done = (f: () => void) => (this.listeners.delete(check), f());
      this.listeners.add(check);
      check();
    });
  }
  go(): void {
    this.proc.send('go');
  }
  ids(ev: 'committed' | 'appended'): string[] {
    return this.events.flatMap((e) => (e.ev === ev ? [e.msgId] : []));
  }
}

/** Registers beforeEach/afterEach: a fresh temp dir per test, every child reaped after it. */
export function storeChildFixture(prefix: string) {
  const state = { dir: '', children: [] as StoreChild[] };
  beforeEach(() => {
    state.dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    state.children = [];
  });
  afterEach(async () => {
    for (const c of state.children) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await c.exited;
    }
    fs.rmSync(state.dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return state.dir;
    },
    start(cfg: WorkerConfig): StoreChild {
      const c = new StoreChild(cfg);
      state.children.push(c);
      return c;
    },
    paths: () => ({
      dbPath: path.join(state.dir, 'store.db'),
      lockPath: path.join(state.dir, 'store.lock'),
      keyHex: KEY_HEX,
    }),
  };
}
