/**
 * A real child process for the multi-process store/inbox tests. Spawned as
 *   node --import tsx test/helpers/store-worker.ts '<json WorkerConfig>'
 * with an IPC channel. It reports every commit/append over IPC *after* it is
 * durable, so the parent knows exactly what must survive a SIGKILL.
 */
import { isNsekitError } from '../../src/core/errors.js';
import type { Failpoints } from '../../src/core/host.js';
import { nodeHost, silentLog } from '../../src/node/host.js';
import { createFlockLock } from '../../src/node/lock/index.js';
import { PendingInboxFile } from '../../src/node/pending-inbox/index.js';
import { SharedStore } from '../../src/node/store/index.js';

export type WorkerConfig =
  | {
      role: 'hammer';
      dbPath: string;
      lockPath: string;
      keyHex: string;
      prefix: string;
      n: number;
      lockTimeoutMs?: number;
      /** After this many commits, the next write stops at db.tx.commit (rows inserted, not committed) forever. */
      pauseAfter?: number;
    }
  | { role: 'append'; inboxPath: string; prefix: string; n: number };

export type WorkerEvent =
  | { ev: 'ready' }
  | { ev: 'committed'; msgId: string }
  | { ev: 'appended'; msgId: string }
  | { ev: 'paused'; msgId: string }
  | { ev: 'done'; count: number; busy: number }
  | { ev: 'error'; code: string; message: string };

const send = (e: WorkerEvent) => new Promise<void>((res) => process.send!(e, () => res()));
const cfg = JSON.parse(process.argv[2]!) as WorkerConfig;
const go = new Promise<void>((res) => process.once('message', () => res()));

async function hammer(c: Extract<WorkerConfig, { role: 'hammer' }>) {
  let commits = 0;
  let current = '';
  const failpoints: Failpoints = {
    hit(name) {
      if (name === 'db.tx.commit' && c.pauseAfter !== undefined && commits >= c.pauseAfter) {
        void send({ ev: 'paused', msgId: current });
        return new Promise<void>(() => {}); // hold the lock and the open transaction until killed
      }
    },
  };
  const host = nodeHost({ log: silentLog, failpoints });
  const lock = createFlockLock(c.lockPath, { host });
  const store = new SharedStore({ dbPath: c.dbPath, lock, host, lockTimeoutMs: c.lockTimeoutMs ?? 20_000 });
  store.open();
  await store.unlock(Buffer.from(c.keyHex, 'hex'));
  await send({ ev: 'ready' });
  await go;
  let busy = 0;
  const body = new Uint8Array(256).fill(0x61);
  for (let i = 0; i < c.n; i++) {
    current = `${c.prefix}-${i}`;
    try {
      await store.putPlainMessage({ msgId: current, queueId: c.prefix, ts: i, flags: { notification: false }, body });
    } catch (e) {
      const code = (e as { code?: string }).code ?? '';
      if (code.startsWith('SQLITE_BUSY')) {
        busy++;
        i--; // retry: but count it, the test demands zero
        continue;
      }
      throw e;
    }
    commits++;
    await send({ ev: 'committed', msgId: current });
  }
  await store.close();
  await lock.close();
  await send({ ev: 'done', count: commits, busy });
}

async function append(c: Extract<WorkerConfig, { role: 'append' }>) {
  const host = nodeHost({ log: silentLog });
  const inbox = new PendingInboxFile(c.inboxPath, host);
  await send({ ev: 'ready' });
  await go;
  for (let i = 0; i < c.n; i++) {
    const msgId = `${c.prefix}-${i}`;
    await inbox.append({ msgId, queueId: 'q', ts: i, flags: { notification: true }, sealed: new Uint8Array(64).fill(i & 255) });
    await send({ ev: 'appended', msgId });
  }
  await send({ ev: 'done', count: c.n, busy: 0 });
}

(cfg.role === 'hammer' ? hammer(cfg) : append(cfg))
  .then(() => process.exit(0))
  .catch(async (e) => {
    await send({ ev: 'error', code: isNsekitError(e) ? e.code : String((e as { code?: string }).code), message: String(e) });
    process.exit(1);
  });
