import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import type { Host } from '../../src/core/host.js';
import { noFailpoints } from '../../src/core/host.js';
import { nodeClock, nodeRng, silentLog } from '../../src/node/host.js';
import { createFlockLock } from '../../src/node/lock/index.js';
import type { CrossProcessLock } from '../../src/node/lock/index.js';
import { SharedStore } from '../../src/node/store/index.js';

const host: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: noFailpoints };
const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

it('onDirty fires when the other store (own flock fd, same lock file) wrote in between, not after our own writes', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsekit-store-dirty-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const mk = () => {
    const lock: CrossProcessLock = createFlockLock(path.join(dir, 'store.lock'), { host });
    const s = new SharedStore({ dbPath: path.join(dir, 'store.db'), lock, host });
    cleanup.push(async () => (await s.close(), await lock.close()));
    s.open();
    return s;
  };
  const a = mk();
  const b = mk();
  await a.unlock(new Uint8Array(32).fill(4));
  await b.unlock(new Uint8Array(32).fill(4));
  const seen: string[] = [];
  a.onDirty(() => seen.push('a'));
  const offB = b.onDirty(() => seen.push('b'));
  const put = (s: SharedStore, id: string) =>
    s.putPlainMessage({ msgId: id, queueId: 'q', ts: 0, flags: { notification: false }, body: new Uint8Array([1]) });
  await put(a, "a1");
  seen.length = 0;
  await put(a, 'a2'); // nobody else wrote
  expect(seen).toEqual([]);
  await put(b, 'b1'); // a wrote since b last held it
  expect(seen).toEqual(['b']);
  await put(a, 'a3');
  expect(seen).toEqual(['b', 'a']);
  offB();
  await put(b, 'b2');
  expect(seen).toEqual(['b', 'a']);
  expect(await b.listMessageIds()).toEqual(['a1', 'a2', 'b1', 'a3', 'b2']);
});
