import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import type { World } from '../../src/cli/world.js';
import { changeDeviceToken, deviceAccount } from '../../src/device/push-token.js';
import { readDeviceStore, relayHasMessage, useWorld } from '../helpers/e2e-world.js';

/** The relay's record of queue `q`'s push token (read-only peek at its SQLite, WAL allows it). */
function relayToken(w: World, q = 0): { token: string | null; platform: string | null; appVersion: string | null; active: number; seenAt: number | null } {
  const db = new Database(join(w.dir, 'relay.db'), { readonly: true, fileMustExist: true });
  try {
    const r = db.prepare('SELECT device_token, token_platform, token_app_version, token_active, token_seen_at FROM queues WHERE queue_id = ?').get(w.queues[q]!.queueId) as Record<string, unknown>;
    return { token: r.device_token as string | null, platform: r.token_platform as string | null, appVersion: r.token_app_version as string | null, active: r.token_active as number, seenAt: r.token_seen_at as number | null };
  } finally {
    db.close();
  }
}

async function suspendAndFreeze(w: World): Promise<void> {
  const from = w.device.events.length;
  await w.device.appLifecycle('suspend');
  await w.device.waitEvent('app', 'suspended', () => true, { from });
  expect(w.device.freeze(w.device.app!)).toBe('frozen');
}

describe('e2e: the app owns its push token', () => {
  const world = useWorld();

  it('registers at launch (platform, app version, truncated in its event), re-registers a changed token, and a push in flight to the old one loses nothing', async () => {
    const w = await world({ queues: 2, procConfig: { nseGraceMs: 300 } });
    const first = w.device.token;
    await w.device.launchApp();
    const reg = await w.device.waitEvent('app', 'push-token', (e) => e.state === 'registered');
    expect(reg).toMatchObject({ platform: 'ios', token: `${first.slice(0, 6)}…`, reason: 'launch', queues: 2 });
    await w.device.waitEvent('app', 'wake');
    for (const q of [0, 1]) expect(relayToken(w, q)).toMatchObject({ token: first, platform: 'ios', appVersion: '1.0.0', active: 1 });

    // The OS rotates the token while the app is frozen: the old token is invalid at the gateway at once,
    // the frozen app learns the new one only when thawed. A message sent meanwhile is pushed to the old
    // token (410: the relay drops the token) — it stays at the relay and the app fetches it.
    await suspendAndFreeze(w);
    const second = await changeDeviceToken(w.device);
    expect(second).not.toBe(first);
    await w.send(0, 'during the change');
    await w.relay.pushIdle();
    const from = w.device.events.length;
    await w.device.appLifecycle('active');
    const again = await w.device.waitEvent('app', 'push-token', (e) => e.state === 'registered', { from });
    expect(again).toMatchObject({ token: `${second.slice(0, 6)}…`, reason: 'change' });
    await w.device.waitEvent('app', 'wake', () => true, { from });
    for (const q of [0, 1]) expect(relayToken(w, q)).toMatchObject({ token: second, active: 1 });

    // The new token is the one pushed to: the NSE gets the next message while the app is frozen.
    await suspendAndFreeze(w);
    const from2 = w.device.events.length;
    await w.send(1, 'to the new token');
    await w.device.waitEvent('nse', 'notification', (e) => e.body === 'to the new token', { from: from2, timeoutMs: 40_000 });
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()].sort()).toEqual(['during the change', 'to the new token']);
  });

  it('logout deactivates the token (no push, nothing fetched) and keeps the store; login registers and fetches what waited', async () => {
    const w = await world({ procConfig: { nseGraceMs: 300 } });
    await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    await w.send(0, 'before logout');
    await w.device.waitEvent('app', 'stored', (e) => !e.duplicate);

    let from = w.device.events.length;
    expect(deviceAccount(w.device, 'logout')).toBe(true);
    const off = await w.device.waitEvent('app', 'push-token', (e) => e.state === 'deactivated', { from });
    expect(off.token).toBe(`${w.device.token.slice(0, 6)}…`);
    expect(relayToken(w)).toMatchObject({ token: w.device.token, active: 0 });

    // Logged out, in the background: a flagged message stores no notification and wakes nothing.
    await suspendAndFreeze(w);
    const pushesBefore = w.device.pushes.length;
    await w.send(0, 'while logged out');
    expect(w.relay.pendingNotifications()).toBe(0);
    await w.relay.pushIdle();
    expect(w.device.pushes.length).toBe(pushesBefore);

    // Back in front but still logged out: the wake fetches nothing.
    from = w.device.events.length;
    await w.device.appLifecycle('active');
    const wake = await w.device.waitEvent('app', 'wake', () => true, { from });
    expect(wake.loggedOut).toBe(true);
    expect(await relayHasMessage(w, 0)).toBe(true);

    from = w.device.events.length;
    expect(deviceAccount(w.device, 'login')).toBe(true);
    await w.device.waitEvent('app', 'push-token', (e) => e.state === 'registered' && e.reason === 'change', { from });
    await w.device.waitEvent('app', 'stored', (e) => !e.duplicate, { from });
    expect(relayToken(w)).toMatchObject({ active: 1 });
    const snap = await readDeviceStore(w);
    expect([...snap.texts.values()].sort()).toEqual(['before logout', 'while logged out']);
  });
});
