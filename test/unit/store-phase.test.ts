import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { Host } from '../../src/core/host.js';
import { PhaseController } from '../../src/core/phase/index.js';
import { nodeClock, nodeRng, silentLog } from '../../src/node/host.js';
import { createFlockLock } from '../../src/node/lock/index.js';
import type { CrossProcessLock } from '../../src/node/lock/index.js';
import { SharedStore } from '../../src/node/store/index.js';

let dir: string;
let lock: CrossProcessLock;
let phase: PhaseController;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsekit-store-phase-'));
});
afterEach(async () => {
  phase?.stop();
  await lock?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('suspend waits for the in-flight write, closes (WAL truncated, lock free) before suspended; a write issued while suspended runs only after activate', async () => {
  const order: string[] = [];
  let releaseCommit: (() => void) | null = null;
  let pauseNextCommit = false;
  const host: Host = {
    clock: nodeClock,
    rng: nodeRng,
    log: silentLog,
    failpoints: {
      hit(name, f) {
        if (!name.startsWith('db.')) return; // the phase controller's own failpoints
        order.push(`${name}:${String(f?.op)}`);
        if (name === 'db.tx.commit' && pauseNextCommit) {
          pauseNextCommit = false;
          return new Promise<void>((r) => (releaseCommit = r));
        }
      },
    },
  };
  lock = createFlockLock(path.join(dir, 'store.lock'), { host });
  let store!: SharedStore;
  phase = new PhaseController(host, {
    proc: 'app',
    hooks: {
      onSuspend: async () => {
        order.push('onSuspend');
        await store.close();
        order.push(`closed lockHeld=${lock.held}`);
      },
      onActivate: () => {
        order.push('onActivate');
        store.open();
      },
    },
  });
  phase.on('suspended', () => order.push('suspended'));
  store = new SharedStore({ dbPath: path.join(dir, 'store.db'), lock, host, gate: phase });
  store.open();
  await store.unlock(new Uint8Array(32).fill(5));
  order.length = 0;
  pauseNextCommit = true;

  const body = new TextEncoder().encode('x');
  const first = store.putPlainMessage({ msgId: 'm1', queueId: 'q', ts: 1, flags: { notification: false }, body });
  await new Promise<void>((r) => {
    const t = () => (releaseCommit ? r() : setImmediate(t));
    t();
  });
  const suspended = phase.suspend(30_000);
  await new Promise((r) => setImmediate(r));
  expect(order).not.toContain('suspended'); // the write is still mid-transaction
  releaseCommit!();
  expect(await first).toBe(true);
  await suspended;
  expect(order).toEqual([
    'db.tx.begin:putMessage',
    'db.tx.commit:putMessage',
    'onSuspend',
    'closed lockHeld=false',
    'suspended',
  ]);
  expect(store.isOpen).toBe(false);
  const wal = path.join(dir, 'store.db-wal');
  expect(fs.existsSync(wal) ? fs.statSync(wal).size : 0).toBe(0); // truncated (or removed by the last close)

  order.length = 0;
  const second = store.putPlainMessage({ msgId: 'm2', queueId: 'q', ts: 2, flags: { notification: false }, body });
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
  expect(order).toEqual([]); // waited at the gate: never reached the store
  await phase.activate();
  expect(await second).toBe(true);
  expect(order).toEqual(['onActivate', 'db.tx.begin:putMessage', 'db.tx.commit:putMessage']);
  expect(await store.listMessageIds()).toEqual(['m1', 'm2']);
  await store.close();
});
