/**
 * Real processes: `flock(1)` holds the shared store.lock from outside for longer than the store's
 * lock timeout (5 s). The NSE's write and the app's outbox write meet LOCK_TIMEOUT, are retried
 * with backoff, and go through once the holder lets go; a write given up because a suspension was
 * asked for fails with a typed error naming the send and the holder. Orderings only (the holder's
 * exit is marked in the device's event list), no wall-clock assertions.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SHARED_FILES } from '../../src/device/ipc.js';
import { flockHolders } from '../../src/node/lock/index.js';
import type { World } from '../../src/cli/world.js';
import { readDeviceStore, relayHasMessage, suspendAndFreezeApp, useWorld, withStoreOf } from '../helpers/e2e-world.js';

const holders: ChildProcess[] = [];
afterEach(() => {
  for (const p of holders.splice(0)) if (p.exitCode === null && p.signalCode === null) process.kill(-p.pid!, 'SIGKILL');
});

/**
 * flock(1) takes the device's store.lock and keeps it `seconds` (held until killed); resolves once
 * the kernel shows it holding. The test itself lets go: `released` resolves with the device's event
 * count taken just before the kill, so every event at or after that index came after the release.
 * (The holder's own exit is no such mark: another child's IPC message can reach this process before
 * the exit of flock(1) does — a CI run saw the NSE's `stored` one event ahead of it.)
 */
async function holdStoreLock(w: World, seconds: number): Promise<{ pid: number; released: Promise<number>; kill: () => void }> {
  const lockPath = join(w.device.sharedDir, SHARED_FILES.lock);
  const ext = spawn('flock', ['-x', lockPath, 'sleep', '600'], { stdio: 'ignore', detached: true });
  holders.push(ext);
  const kill = () => {
    if (ext.exitCode === null && ext.signalCode === null) process.kill(-ext.pid!, 'SIGKILL');
  };
  for (let i = 0; i < 500 && !flockHolders(lockPath).includes(ext.pid!); i++) await new Promise((r) => setTimeout(r, 10));
  expect(flockHolders(lockPath)).toContain(ext.pid);
  const released = new Promise<number>((r) =>
    setTimeout(() => {
      const at = w.device.events.length;
      kill();
      r(at);
    }, seconds * 1000).unref(),
  );
  return { pid: ext.pid!, released, kill };
}

async function outboxIds(w: World): Promise<string[]> {
  return withStoreOf(w.device, async (store) => [...(await store.outboxPending()), ...(await store.outboxList('sent')), ...(await store.outboxList('failed'))].map((i) => i.clientId));
}

describe('e2e: the store lock held from outside past the lock timeout', () => {
  const world = useWorld();

  it('NSE: its write waits out the holder (retried after LOCK_TIMEOUT), then the message is stored, ACKed and shown', async () => {
    const w = await world({ mode: 'instant', procConfig: { nseGraceMs: 300 } });
    await suspendAndFreezeApp(w);
    const hold = await holdStoreLock(w, 7);
    const from = w.device.events.length;
    await w.send(0, 'behind the lock');
    const stored = await w.device.waitEvent('nse', 'stored', (e) => !e.duplicate, { from, timeoutMs: 40_000 });
    const note = await w.device.waitEvent('nse', 'notification', (e) => e.body === 'behind the lock', { from, timeoutMs: 40_000 });
    const releasedAt = await hold.released;
    const evs = w.device.events;
    // Stored only after the holder let go: the first attempt timed out and was retried.
    expect(evs.indexOf(stored)).toBeGreaterThanOrEqual(releasedAt);
    expect(note.msgId).toBe(stored.msgId);
    expect(evs.slice(from).filter((e) => e.role === 'nse' && e.name === 'error')).toEqual([]);
    await w.device.waitEvent('nse', 'acked', (e) => e.msgId === stored.msgId, { from });
    expect(await relayHasMessage(w, 0)).toBe(false);
    expect(w.device.violations).toEqual([]);
  }, 60_000);

  it('app: an outbox write retried past the holder is queued once and sent; one given up for a suspension names the send and the holder', async () => {
    const w = await world({ appCanSend: true });
    await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    const qid = w.queues[0]!.queueId;

    // 1. Held 7 s: the send waits (no "sending" before the holder is gone), then goes out.
    let hold = await holdStoreLock(w, 7);
    let from = w.device.events.length;
    w.device.app!.send({ type: 'send', queueId: qid, text: 'queued after the lock', clientId: 'held-1' });
    const sending = await w.device.waitEvent('app', 'outbox', (e) => e.clientId === 'held-1' && e.state === 'sending', { from, timeoutMs: 40_000 });
    await w.device.waitEvent('app', 'outbox', (e) => e.clientId === 'held-1' && e.state === 'sent', { from, timeoutMs: 40_000 });
    expect(w.device.events.indexOf(sending)).toBeGreaterThanOrEqual(await hold.released);
    expect(w.device.events.slice(from).filter((e) => e.role === 'app' && e.name === 'error')).toEqual([]);

    // 2. Held until killed, and the app is told to suspend meanwhile: no retry after that.
    hold = await holdStoreLock(w, 60);
    from = w.device.events.length;
    w.device.app!.send({ type: 'send', queueId: qid, text: 'never queued', clientId: 'held-2' });
    await w.device.appLifecycle('suspend');
    const err = await w.device.waitEvent('app', 'error', (e) => e.where === 'send', { from, timeoutMs: 20_000 });
    expect(err).toMatchObject({ code: 'OUTBOX_NOT_QUEUED', clientId: 'held-2', cause: 'LOCK_TIMEOUT', holderPid: hold.pid });
    hold.kill();
    await w.device.waitEvent('app', 'suspended', () => true, { from, timeoutMs: 20_000 });
    expect(w.device.events.slice(from).filter((e) => e.name === 'outbox' && e.clientId === 'held-2')).toEqual([]);
    expect((await outboxIds(w)).sort()).toEqual(['held-1']);
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()]).toEqual(['queued after the lock']);
  }, 90_000);
});
