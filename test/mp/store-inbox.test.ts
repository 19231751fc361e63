import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Host, Lock } from '../../src/core/host.js';
import { noFailpoints } from '../../src/core/host.js';
import { nodeClock, nodeRng, silentLog } from '../../src/node/host.js';
import { createFlockLock } from '../../src/node/lock/index.js';
import { PendingInboxFile } from '../../src/node/pending-inbox/index.js';
import { SharedStore } from '../../src/node/store/index.js';

import { storeChildFixture } from '../helpers/store-child.js';

const fx = storeChildFixture('nsekit-mp-inbox-');
const start = fx.start;
const paths = fx.paths;

describe('PendingInboxFile across real processes', () => {
  it('a second process appending in a loop while this one imports loses nothing and duplicates nothing', async () => {
    const N = 300;
    const inboxPath = path.join(fx.dir, 'pending.jsonl');
    const host: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: noFailpoints };
    const lock: Lock = createFlockLock(path.join(fx.dir, 'store.lock'), { host });
    const store = new SharedStore({ dbPath: path.join(fx.dir, 'store.db'), lock, host });
    store.open();
    const inbox = new PendingInboxFile(inboxPath, host);
    const w = start({ role: 'append', inboxPath, prefix: 'P', n: N });
    await w.waitFor((e) => e.ev === 'ready', 'ready');
    w.go();
    let imports = 0;
    let concurrentImports = 0;
    let files = 0;
    // Import repeatedly while the appender runs (bounded), then once more after it finished.
    for (let round = 0; round < 10_000; round++) {
      const running = w.events.every((e) => e.ev !== 'done');
      const appendedBefore = w.ids('appended').length;
      const r = await inbox.importInto(store);
      imports++;
      files += r.files;
      if (running && r.files > 0 && appendedBefore > 0 && appendedBefore < N) concurrentImports++;
      if (!running) break;
      await new Promise((res) => setImmediate(res));
    }
    await w.waitFor((e) => e.ev === 'done', 'done');
    await inbox.importInto(store);
    const ids = await store.listMessageIds();
    console.log(`[inbox mp] ${imports} imports, ${files} files claimed, ${concurrentImports} while appending`);
    expect(concurrentImports).toBeGreaterThan(0); // the race really happened
    expect(ids).toHaveLength(N);
    expect(new Set(ids)).toEqual(new Set(w.ids('appended')));
    expect(fs.readdirSync(fx.dir).filter((n) => n.startsWith('pending'))).toEqual([]);
    await store.close();
    await (lock as { close?: () => Promise<void> }).close?.();
  }, 120_000);
  it('SIGKILL of an appender mid-stream: every append it reported is imported, nothing twice', async () => {
    const inboxPath = path.join(fx.dir, 'pending.jsonl');
    const host: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: noFailpoints };
    const lock: Lock = createFlockLock(path.join(fx.dir, 'store.lock'), { host });
    const store = new SharedStore({ dbPath: path.join(fx.dir, 'store.db'), lock, host });
    store.open();
    const w = start({ role: 'append', inboxPath, prefix: 'K', n: 100_000 });
    await w.waitFor((e) => e.ev === 'ready', 'ready');
    w.go();
    await w.waitFor((e) => e.ev === 'appended' && e.msgId === 'K-150', '150 appends');
    w.proc.kill('SIGKILL');
    await w.exited;
    const reported = w.ids('appended');
    const r = await new PendingInboxFile(inboxPath, host).importInto(store);
    const ids = new Set(await store.listMessageIds());
    for (const id of reported) expect(ids.has(id)).toBe(true);
    // Appends that were durable but whose report was still in flight may be extra; never a gap.
    expect(ids.size).toBeGreaterThanOrEqual(reported.length);
    expect([...ids].sort()).toEqual(Array.from({ length: ids.size }, (_, i) => `K-${i}`).sort());
    expect(r.inserted).toBe(ids.size);
    console.log(`[inbox mp] killed after ${reported.length} reported appends; imported ${r.inserted}, torn ${r.torn}`);
    await store.close();
    await (lock as { close?: () => Promise<void> }).close?.();
  }, 120_000);
});
