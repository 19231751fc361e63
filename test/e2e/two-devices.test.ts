import { afterEach, describe, expect, it } from 'vitest';
import { UserDevices } from '../../src/cli/user-devices.js';
import type { Device } from '../../src/device/device.js';
import { readStoreOf, useWorld } from '../helpers/e2e-world.js';

/** Suspend and freeze a device's app, as iOS does after its background time. */
async function suspendAndFreeze(d: Device): Promise<void> {
  const from = d.events.length;
  await d.appLifecycle('suspend');
  await d.waitEvent('app', 'suspended', () => true, { from });
  expect(d.freeze(d.app!)).toBe('frozen');
}

describe('e2e: one user, two devices (fan-out)', () => {
  const world = useWorld();
  const users: UserDevices[] = [];
  afterEach(async () => {
    await Promise.all(users.splice(0).map((u) => u.stop()));
  });

  it('every message reaches both devices exactly once: device 1 in front (SUB), device 2 frozen (push → its NSE); then the other way round', async () => {
    const w = await world({ queues: 1, procConfig: { nseGraceMs: 300 } });
    const u = new UserDevices(w);
    users.push(u);
    await u.addDevices(1);
    const [d1, d2] = u.devices as [Device, Device];
    expect(d1.token).not.toBe(d2.token);
    for (const d of [d1, d2]) {
      await d.launchApp();
      await d.waitEvent('app', 'wake');
    }
    // Device 1 in front, device 2 suspended and frozen.
    await suspendAndFreeze(d2);
    const from1 = d1.events.length;
    const from2 = d2.events.length;
    const texts = ['one', 'two', 'three'];
    for (const t of texts) await u.send(0, t);
    await d1.waitCount('app', 'stored', 3, (e) => !e.duplicate, { from: from1, timeoutMs: 30_000 });
    await d2.waitCount('nse', 'stored', 3, (e) => !e.duplicate, { from: from2, timeoutMs: 40_000 });
    const shown2 = await d2.waitCount('nse', 'notification', 3, () => true, { from: from2 });
    expect(shown2.map((e) => e.body).sort()).toEqual([...texts].sort());
    // The device in front shows no banner (its app has it), and no NSE ran there.
    expect(d1.events.slice(from1).filter((e) => e.role === 'nse')).toEqual([]);

    // The other way round: device 2 comes to the front, device 1 is frozen.
    await d2.appLifecycle('active');
    await d2.waitEvent('app', 'wake', () => true, { from: from2 });
    await suspendAndFreeze(d1);
    const from1b = d1.events.length;
    const from2b = d2.events.length;
    await u.send(0, 'four');
    await d1.waitEvent('nse', 'notification', (e) => e.body === 'four', { from: from1b, timeoutMs: 40_000 });
    await d2.waitEvent('app', 'stored', (e) => !e.duplicate, { from: from2b, timeoutMs: 30_000 });

    // Bring both to the front: nothing new, nothing twice. Each store holds every message once.
    for (const d of [d1, d2]) {
      const from = d.events.length;
      await d.appLifecycle('active');
      await d.waitEvent('app', 'wake', () => true, { from });
      expect(d.events.slice(from).filter((e) => e.name === 'stored' && !e.duplicate)).toEqual([]);
    }
    for (const d of [d1, d2]) {
      const snap = await readStoreOf(d);
      expect(snap.integrity).toBe('ok');
      expect(snap.ids).toHaveLength(4);
      expect([...snap.texts.values()].sort()).toEqual(['four', 'one', 'three', 'two']);
    }
    expect([...d1.violations, ...d2.violations]).toEqual([]);
  });

  it('reading on device 1 removes the notification on device 2 and its badge drops (a read marker through its NSE)', { timeout: 150_000 }, async () => {
    const w = await world({ queues: 1, procConfig: { nseGraceMs: 300 } });
    const u = new UserDevices(w);
    users.push(u);
    await u.addDevices(1);
    await u.linkReads();
    const [d1, d2] = u.devices as [Device, Device];
    for (const d of [d1, d2]) {
      await d.launchApp();
      await d.waitEvent('app', 'wake');
    }
    // Both phones in a pocket: each shows the message through its own NSE.
    for (const d of [d1, d2]) await suspendAndFreeze(d);
    const from1 = d1.events.length;
    const from2 = d2.events.length;
    const [m1, m2] = await u.send(0, 'hello on both');
    const n1 = await d1.waitEvent('nse', 'notification', (e) => e.msgId === m1, { from: from1, timeoutMs: 40_000 });
    const n2 = await d2.waitEvent('nse', 'notification', (e) => e.msgId === m2, { from: from2, timeoutMs: 40_000 });
    expect([n1.badge, n2.badge]).toEqual([1, 1]);
    const thread2 = String(n2.threadId);
    expect(d2.notifications.inThread(thread2).map((x) => x.msgId)).toEqual([m2]);
    expect(d2.notifications.badge).toBe(1);

    // The user opens the conversation on device 1.
    const tapFrom1 = d1.events.length;
    const tapFrom2 = d2.events.length;
    await d1.tap(String(n1.threadId));
    await d1.waitEvent('app', 'thread-read', (e) => e.remote !== true, { from: tapFrom1, timeoutMs: 30_000 });
    const sent = await d1.waitEvent('app', 'read-sync', () => true, { from: tapFrom1, timeoutMs: 30_000 });
    expect(sent).toMatchObject({ state: 'sent', devices: 1, of: 1 });
    // Device 2 (its app frozen) is pushed; its NSE applies the marker: read, banner removed, badge 0.
    const remote = await d2.waitEvent('nse', 'thread-read', (e) => e.remote === true, { from: tapFrom2, timeoutMs: 40_000 });
    expect(remote).toMatchObject({ threadId: thread2, msgIds: [m2], badge: 0 });
    expect(d2.notifications.inThread(thread2)).toEqual([]);
    expect(d2.notifications.badge).toBe(0);
    // Nothing shown on device 2 for the marker (no banner of its own, no best-attempt content).
    expect(d2.events.slice(tapFrom2).filter((e) => e.name === 'notification')).toEqual([]);
    // Device 2's store, once the marker is stored after its read was applied: the message, and the
    // marker kept as a row of the sync queue (without the flag: the badge above counts it out).
    await d2.waitEvent('nse', 'stored', (e) => e.msgId !== m2 && !e.duplicate, { from: tapFrom2, timeoutMs: 20_000 });
    const snap = await readStoreOf(d2);
    expect(snap.integrity).toBe('ok');
    expect(snap.texts.get(m2!)).toBe('hello on both');
    expect([...snap.texts.values()].filter((x) => x.startsWith('read:c0:'))).toHaveLength(1);
    expect([...d1.violations, ...d2.violations]).toEqual([]);
  });
});
