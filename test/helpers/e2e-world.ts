import { decodeReadMarker } from '../../src/core/session/read-sync.js';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { utf8Decode } from '../../src/core/bytes.js';
import { decodeContent } from '../../src/core/content.js';
import { SHARED_FILES } from '../../src/device/ipc.js';
import { World, type WorldOptions } from '../../src/cli/world.js';
import { createFlockLock } from '../../src/node/lock/index.js';
import { nodeHost, silentLog, stderrLog } from '../../src/node/host.js';
import { PendingInboxFile } from '../../src/node/pending-inbox/index.js';
import { SharedStore } from '../../src/node/store/index.js';
import { fromHex } from '../../src/core/bytes.js';

/**
 * One World (relay + push gateway + sender + device with real app/NSE
 * processes) per test, always torn down in afterEach — every child process is
 * stopped and reaped even when the test failed.
 */
export function useWorld(): (opts?: WorldOptions) => Promise<World> {
  const worlds: World[] = [];
  afterEach(async () => {
    await Promise.all(worlds.splice(0).map((w) => w.stop()));
  });
  return async (opts: WorldOptions = {}) => {
    const w = new World({
      procOpts: { stderr: process.env.NSEKIT_E2E_LOGS ? 'inherit' : 'ignore' },
      ...(process.env.NSEKIT_E2E_LOGS ? { log: stderrLog('test') } : {}),
      ...opts,
    });
    worlds.push(w);
    await w.start();
    return w;
  };
}

export interface StoreSnapshot {
  ids: string[];
  texts: Map<string, string>;
  integrity: string;
  /** Rows that did not open with the device's body key (must be empty). */
  unreadable: string[];
}

/** Open the device's shared store from the test process (own lock instance) and read everything. */
export async function readDeviceStore(w: World): Promise<StoreSnapshot> {
  return readStoreOf(w.device);
}

/** A stored body as text: a message's text, or `read:<conversation>:<upTo>` for a read marker (docs/notifications.md). */
function storedText(body: Uint8Array): string {
  try {
    return decodeContent(body).text ?? utf8Decode(body);
  } catch (e) {
    const m = decodeReadMarker(body); // else rethrows: an unreadable row
    if (!m) throw e;
    return `read:${m.conversation}:${m.upTo}`;
  }
}

/**
 * Open a device's shared store from the test process (its own lock instance, the device's key),
 * run `fn`, close it again whatever happens.
 */
export async function withStoreOf<T>(device: { sharedDir: string; masterKey: string }, fn: (store: SharedStore) => Promise<T>): Promise<T> {
  const dir = device.sharedDir;
  const host = nodeHost({ log: silentLog });
  const lock = createFlockLock(join(dir, SHARED_FILES.lock), { host });
  const store = new SharedStore({ dbPath: join(dir, SHARED_FILES.db), lock, host });
  try {
    store.open();
    await store.unlock(fromHex(device.masterKey)!);
    return await fn(store);
  } finally {
    await store.close();
    await lock.close();
  }
}

/** The same for any device (a user's second phone: src/cli/user-devices.ts). */
export function readStoreOf(device: { sharedDir: string; masterKey: string }): Promise<StoreSnapshot> {
  return withStoreOf(device, async (store) => {
    const ids = await store.listMessageIds();
    const texts = new Map<string, string>();
    const unreadable: string[] = [];
    for (const id of ids) {
      try {
        const m = await store.readMessage(id);
        if (m) texts.set(id, storedText(m.body));
      } catch {
        unreadable.push(id);
      }
    }
    if (unreadable.length) throw new Error(`unreadable rows in the device store: ${unreadable.join(', ')}`);
    return { ids, texts, integrity: store.integrityCheck(), unreadable };
  });
}

/** Records waiting in the device's pending inbox file. */
export function readDeviceInbox(w: World): string[] {
  return PendingInboxFile.read(join(w.device.sharedDir, SHARED_FILES.inbox)).records.map((r) => r.msgId);
}

/** Messages still at the relay for queue `q` (peek with GET, never ACK), via a fresh client. */
export async function relayHasMessage(w: World, q: number): Promise<boolean> {
  const { WsTransport } = await import('../../src/node/transport/ws-transport.js');
  const t = new WsTransport({ url: w.relay.url });
  await t.connect();
  try {
    t.setQueueCreds(w.queues[q]!.queueId, { recipientCred: w.queues[q]!.recipientKey });
    return (await t.get(w.queues[q]!.queueId)) !== null;
  } finally {
    await t.close();
  }
}

/**
 * The usual starting point for NSE races: the app launched and woken, then
 * suspended by the rules (store closed, lock released) and frozen. Returns the
 * app's process handle.
 */
export async function suspendAndFreezeApp(w: World) {
  const app = await w.device.launchApp();
  await w.device.waitEvent('app', 'wake');
  await w.device.appLifecycle('suspend');
  await w.device.waitEvent('app', 'suspended');
  w.device.freeze(app);
  return app;
}
