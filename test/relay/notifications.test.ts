import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromBase64, toBase64 } from '../../src/core/bytes.js';
import { openNotificationId } from '../../src/core/protocol/notification-id.js';
import type { WsTransport } from '../../src/node/transport/ws-transport.js';
import { startPushGateway, type RunningPushGateway } from '../../src/relay/push-gateway.js';
import type { RunningRelay } from '../../src/relay/server.js';
import { silentLog } from '../../src/node/host.js';
import { SimClock } from '../helpers/sim-clock.js';
import { DeviceListener, bytes, client, registerDevice, relay, tempDir } from './fixtures.js';

const COALESCE = 50;
const TOKEN = 'a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6a1b2c3d4e5f6abcd';

describe('notification pipeline (relay → push gateway → device)', () => {
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
    await registerDevice(gw.url, TOKEN, device.url);
    r = await relay({ dbPath: tmp.db, clock, pushGatewayUrl: gw.url, notify: { coalesceMs: COALESCE, ttlMs: 10_000 } });
    c = await client(r.url);
  });
  afterEach(async () => {
    await c.close();
    await r.close();
    await gw.close();
    await device.close();
    tmp.cleanup();
  });

  /** Close the coalescing window and wait until the relay has finished pushing. */
  async function closeWindow(ms = COALESCE): Promise<void> {
    await clock.advance(ms);
    await r.pushIdle();
  }

  it('coalesces per token and bundles at most 6 ids per push; ids open to the right msgIds', async () => {
    const q = await c.createQueue();
    const { notifierId, notifierKey } = await c.nsub(q.queueId, TOKEN);
    const bodies = Array.from({ length: 10 }, (_, i) => `SECRET-BODY-${i}-${'x'.repeat(20)}`);
    for (const [i, b] of bodies.entries()) await c.send(q.queueId, bytes(b), { notification: i < 8 });
    expect(r.pendingNotifications()).toBe(8);

    await closeWindow(COALESCE - 1);
    expect(device.pushes).toHaveLength(0); // window still open
    await closeWindow(1);
    await device.waitFor(2);
    expect(device.pushes.map((p) => p.nids!.length)).toEqual([6, 2]);
    expect(r.notifyStats()).toMatchObject({ pushes: 2, nidsPushed: 8 });
    expect(r.pendingNotifications()).toBe(0);

    for (const p of device.pushes) {
      expect(p.aps['mutable-content']).toBe(1);
      // The body never travels in a push, neither as text nor as its base64.
      for (const b of bodies) {
        expect(p.raw).not.toContain(b);
        expect(p.raw).not.toContain(toBase64(bytes(b)));
        expect(p.raw).not.toContain('SECRET');
      }
    }
    const pushed = device.pushes.flatMap((p) => p.nids!).map((n) => {
      expect(n.notifierId).toBe(notifierId);
      expect(n.notifierId).not.toBe(q.queueId);
      return openNotificationId(notifierKey, n.notifierId, fromBase64(n.sealed)!).msgId;
    });
    const flagged: string[] = [];
    for (let i = 0; i < 10; i++) {
      const m = (await c.get(q.queueId))!;
      if (m.flags.notification) flagged.push(m.msgId);
      await c.ack(q.queueId, m.msgId);
    }
    expect(pushed).toEqual(flagged);
  });

  it('several queues on one token share a push; a later message opens a new window', async () => {
    const a = await c.createQueue();
    const b = await c.createQueue();
    const na = await c.nsub(a.queueId, TOKEN);
    const nb = await c.nsub(b.queueId, TOKEN);
    expect(na.notifierId).not.toBe(nb.notifierId);
    await c.send(a.queueId, bytes('1'), { notification: true });
    await c.send(b.queueId, bytes('2'), { notification: true });
    await closeWindow();
    await device.waitFor(1);
    expect(device.pushes[0]!.nids!.map((n) => n.notifierId)).toEqual([na.notifierId, nb.notifierId]);

    await c.send(a.queueId, bytes('3'), { notification: true });
    await closeWindow();
    await device.waitFor(2);
    expect(device.pushes.map((p) => p.nids!.length)).toEqual([2, 1]);
  });

  it('a repeated NSUB keeps the notifier id and key', async () => {
    const q = await c.createQueue();
    const n1 = await c.nsub(q.queueId, TOKEN);
    const n2 = await c.nsub(q.queueId, TOKEN);
    expect(n2.notifierId).toBe(n1.notifierId);
    expect(toBase64(n2.notifierKey)).toBe(toBase64(n1.notifierKey));
  });

  it('no push for messages without the flag, nor for messages ACKed before the window closed', async () => {
    const q = await c.createQueue();
    await c.nsub(q.queueId, TOKEN);
    await c.send(q.queueId, bytes('receipt'), { notification: false });
    await c.send(q.queueId, bytes('fetched early'), { notification: true });
    expect(r.pendingNotifications()).toBe(1);
    for (let i = 0; i < 2; i++) await c.ack(q.queueId, (await c.get(q.queueId))!.msgId);
    await closeWindow();
    expect(r.pendingNotifications()).toBe(0);
    expect(r.notifyStats().pushes).toBe(0);
    expect(device.pushes).toHaveLength(0);
  });

  it('keeps notifications while the device is unreachable and delivers once it is back', async () => {
    const q = await c.createQueue();
    await c.nsub(q.queueId, TOKEN);
    device.status = 503;
    await c.send(q.queueId, bytes('m'), { notification: true });
    await closeWindow();
    expect(r.notifyStats().retries).toBe(1);
    expect(r.pendingNotifications()).toBe(1);
    device.status = 200;
    await closeWindow(2 * COALESCE); // first retry backoff
    await device.waitFor(1);
    expect(r.pendingNotifications()).toBe(0);
    expect(r.notifyStats()).toMatchObject({ pushes: 1, nidsPushed: 1 });
  });

  it('drops notifications older than ttlMs', async () => {
    const q = await c.createQueue();
    await c.nsub(q.queueId, TOKEN);
    device.status = 503;
    await c.send(q.queueId, bytes('m'), { notification: true });
    // Retries back off (100, 200, … ms, capped at retryMaxMs); bounded number of rounds past the 10 s TTL.
    for (let i = 0; i < 40 && r.pendingNotifications() > 0; i++) await closeWindow(1000);
    expect(r.pendingNotifications()).toBe(0);
    expect(r.notifyStats().expired).toBe(1);
    expect(device.pushes).toHaveLength(0);
    // The message itself is untouched: only the wake-up expired.
    expect((await c.get(q.queueId))).not.toBeNull();
  });

  it('a token the device reports invalid is dropped and no longer notified', async () => {
    const q = await c.createQueue();
    await c.nsub(q.queueId, TOKEN);
    device.status = 410;
    await c.send(q.queueId, bytes('m'), { notification: true });
    await closeWindow();
    expect(r.notifyStats().invalidTokens).toBe(1);
    expect(r.pendingNotifications()).toBe(0);
    await c.send(q.queueId, bytes('m2'), { notification: true });
    expect(r.pendingNotifications()).toBe(0); // the queue's token was cleared
    expect(gw.stats().unregistered).toBe(0);
  });
});
