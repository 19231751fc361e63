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
});
