import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromBase64 } from '../../src/core/bytes.js';
import { decodeClientFrame } from '../../src/core/protocol/codec.js';
import { openNotificationId } from '../../src/core/protocol/notification-id.js';
import type { WsTransport } from '../../src/node/transport/ws-transport.js';
import { startPushGateway, type RunningPushGateway } from '../../src/relay/push-gateway.js';
import type { RunningRelay } from '../../src/relay/server.js';
import { silentLog } from '../../src/node/host.js';
import { SimClock } from '../helpers/sim-clock.js';
import { DeviceListener, bytes, client, registerDevice, relay, tempDir } from './fixtures.js';

const COALESCE = 50;
const OLD = 'old0token0aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
const NEW = 'new0token0bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb';

describe('relay: push-token lifecycle (NSUB metadata, token change, NDEL, invalid tokens)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let clock: SimClock;
  let gw: RunningPushGateway;
  let device: DeviceListener;
  let r: RunningRelay;
  let c: WsTransport;

  beforeEach(async () => {
    tmp = tempDir();
    clock = new SimClock();
    device = await new DeviceListener().start();
    gw = await startPushGateway({ log: silentLog });
    await registerDevice(gw.url, OLD, device.url);
    await registerDevice(gw.url, NEW, device.url);
    r = await relay({ dbPath: tmp.db, clock, pushGatewayUrl: gw.url, notify: { coalesceMs: COALESCE, ttlMs: 60_000 } });
    c = await client(r.url);
  });
  afterEach(async () => {
    await c.close();
    await r.close();
    await gw.close();
    await device.close();
    tmp.cleanup();
  });

  function row(queueId: string): Record<string, unknown> {
    const db = new Database(tmp.db, { readonly: true });
    try {
      return db.prepare('SELECT device_token, token_platform, token_app_version, token_seen_at, token_active FROM queues WHERE queue_id = ?').get(queueId) as Record<string, unknown>;
    } finally {
      db.close();
    }
  }
  async function closeWindow(): Promise<void> {
    await clock.advance(COALESCE);
    await r.pushIdle();
  }

  it('codec: NSUB carries optional platform/appVersion (checked), NDEL is a recipient command', () => {
    const ok = decodeClientFrame(JSON.stringify({ type: 'NSUB', corrId: '1', queueId: 'q', cred: 'c', deviceToken: 't', platform: 'ios', appVersion: '2.1.0+7' }));
    expect(ok).toEqual({ type: 'NSUB', corrId: '1', queueId: 'q', cred: 'c', deviceToken: 't', platform: 'ios', appVersion: '2.1.0+7' });
    expect(() => decodeClientFrame(JSON.stringify({ type: 'NSUB', corrId: '1', queueId: 'q', cred: 'c', deviceToken: 't', platform: 'iOS 17' }))).toThrow(/platform/);
    expect(() => decodeClientFrame(JSON.stringify({ type: 'NSUB', corrId: '1', queueId: 'q', cred: 'c', deviceToken: 't', appVersion: 'x'.repeat(33) }))).toThrow(/appVersion/);
    expect(decodeClientFrame(JSON.stringify({ type: 'NDEL', corrId: '2', queueId: 'q', cred: 'c' }))).toEqual({ type: 'NDEL', corrId: '2', queueId: 'q', cred: 'c' });
  });

  it('NSUB records platform, app version and when; a new token keeps the notifier and takes over the pending notifications', async () => {
    const q = await c.createQueue();
    await clock.advance(1_000);
    const t1 = clock.now();
    const a = await c.nsub(q.queueId, OLD, { platform: 'ios', appVersion: '1.2.3' });
    expect(row(q.queueId)).toMatchObject({ device_token: OLD, token_platform: 'ios', token_app_version: '1.2.3', token_seen_at: t1, token_active: 1 });
    // A flagged message is pending for the old token; the token changes before the window closes.
    await c.send(q.queueId, bytes('m1'), { notification: true });
    await clock.advance(10);
    const b = await c.nsub(q.queueId, NEW, { platform: 'ios', appVersion: '1.2.4' });
    expect(b.notifierId).toBe(a.notifierId);
    expect(row(q.queueId)).toMatchObject({ device_token: NEW, token_app_version: '1.2.4', token_seen_at: t1 + 10 });
    await fetch(`${gw.url}/invalidate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: OLD }) });
    await closeWindow();
    await device.waitFor(1);
    // Pushed once, to the new token, and it opens to the stored message.
    expect(device.pushes).toHaveLength(1);
    const m = (await c.get(q.queueId))!;
    expect(openNotificationId(b.notifierKey, b.notifierId, fromBase64(device.pushes[0]!.nids![0]!.sealed)!).msgId).toBe(m.msgId);
    expect(r.pendingNotifications()).toBe(0);
  });

  it('NDEL (logout) deactivates: pending notifications go, a flagged SEND stores none and the message stays; NSUB reactivates', async () => {
    const q = await c.createQueue();
    await c.nsub(q.queueId, OLD);
    await c.send(q.queueId, bytes('pending at logout'), { notification: true });
    expect(r.pendingNotifications()).toBe(1);
    await c.ndel(q.queueId);
    expect(row(q.queueId)).toMatchObject({ device_token: OLD, token_active: 0 });
    expect(r.pendingNotifications()).toBe(0);
    await c.send(q.queueId, bytes('after logout'), { notification: true });
    expect(r.pendingNotifications()).toBe(0);
    await closeWindow();
    expect(device.pushes).toHaveLength(0);
    // Nothing lost: both messages wait in the queue.
    const first = (await c.get(q.queueId))!;
    await c.ack(q.queueId, first.msgId);
    expect(await c.get(q.queueId)).not.toBeNull();
    // Login: the same token is active again and pushed to.
    await c.nsub(q.queueId, OLD, { platform: 'ios' });
    expect(row(q.queueId)).toMatchObject({ token_active: 1 });
    await c.send(q.queueId, bytes('after login'), { notification: true });
    await closeWindow();
    await device.waitFor(1);
    expect(device.pushes).toHaveLength(1);
  });

  it('NDEL needs the recipient credential (PROTO_AUTH, nothing changes)', async () => {
    const q = await c.createQueue();
    await c.nsub(q.queueId, OLD);
    c.setQueueCreds(q.queueId, { recipientCred: 'wrong' });
    await expect(c.ndel(q.queueId)).rejects.toMatchObject({ code: 'PROTO_AUTH' });
    expect(row(q.queueId)).toMatchObject({ token_active: 1 });
  });

  it('an invalid token (gateway 410) is dropped from its queues; the app registering a fresh one is pushed to again', async () => {
    const q = await c.createQueue();
    await c.nsub(q.queueId, OLD);
    device.status = 410; // the device reports the token invalid
    await c.send(q.queueId, bytes('to a dead token'), { notification: true });
    await closeWindow();
    expect(row(q.queueId)).toMatchObject({ device_token: null });
    expect(r.pendingNotifications()).toBe(0);
    device.status = 200;
    await c.nsub(q.queueId, NEW, { platform: 'ios' });
    await c.send(q.queueId, bytes('to the fresh token'), { notification: true });
    await closeWindow();
    await device.waitFor(1);
    expect(device.pushes).toHaveLength(1);
    // Both messages are still in the queue (a dropped notification never drops a message).
    const m1 = (await c.get(q.queueId))!;
    await c.ack(q.queueId, m1.msgId);
    expect(await c.get(q.queueId)).not.toBeNull();
  });
});
