import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromBase64 } from '../../src/core/bytes.js';
import { openNotificationId } from '../../src/core/protocol/notification-id.js';
import { silentLog } from '../../src/node/host.js';
import type { WsTransport } from '../../src/node/transport/ws-transport.js';
import { startPushGateway, type RunningPushGateway } from '../../src/relay/push-gateway.js';
import type { RunningRelay } from '../../src/relay/server.js';
import { SimClock } from '../helpers/sim-clock.js';
import { DeviceListener, bytes, client, registerDevice, relay, tempDir, text } from './fixtures.js';

describe('relay restart persistence', () => {
  let tmp: ReturnType<typeof tempDir>;
  const cleanups: Array<() => Promise<void> | void> = [];
  const track = <T extends { close(): Promise<void> | void }>(x: T): T => {
    cleanups.push(() => x.close());
    return x;
  };

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
    tmp.cleanup();
  });

  it('queues and messages survive a restart: SEND 3, restart, GET/ACK all 3 in order', async () => {
    const r1: RunningRelay = track(await relay({ dbPath: tmp.db }));
    const c1: WsTransport = track(await client(r1.url));
    const q = await c1.createQueue();
    for (const s of ['first', 'second', 'third']) await c1.send(q.queueId, bytes(s), { notification: false });
    await c1.close();
    await r1.close();

    const r2 = track(await relay({ dbPath: tmp.db }));
    const c2 = track(await client(r2.url));
    c2.setQueueCreds(q.queueId, { recipientCred: q.recipientCred, senderCred: q.senderCred });
    const got: string[] = [];
    for (let i = 0; i < 4; i++) {
      const m = await c2.get(q.queueId);
      if (!m) break;
      got.push(text(m.body));
      await c2.ack(q.queueId, m.msgId);
    }
    expect(got).toEqual(['first', 'second', 'third']);
    expect(await c2.get(q.queueId)).toBeNull();
    // Credentials survived too: the sender still sends.
    await c2.send(q.queueId, bytes('fourth'), { notification: false });
    expect(text((await c2.get(q.queueId))!.body)).toBe('fourth');
  });

  it('pending notifications survive a restart and are pushed by the next run; NSUB survives too', async () => {
    const token = 'feedface'.repeat(8);
    // Run 1: no gateway configured, so notifications can only stay pending.
    const r1 = track(await relay({ dbPath: tmp.db }));
    const c1 = track(await client(r1.url));
    const q = await c1.createQueue();
    const { notifierId, notifierKey } = await c1.nsub(q.queueId, token);
    await c1.send(q.queueId, bytes('p1'), { notification: true });
    await c1.send(q.queueId, bytes('p2'), { notification: true });
    expect(r1.pendingNotifications()).toBe(2);
    await c1.close();
    await r1.close();

    // Run 2: a gateway and a device are up.
    const device: DeviceListener = track(await new DeviceListener().start());
    const gw: RunningPushGateway = track(await startPushGateway({ log: silentLog }));
    await registerDevice(gw.url, token, device.url);
    const clock = new SimClock();
    const r2 = track(await relay({ dbPath: tmp.db, clock, pushGatewayUrl: gw.url, notify: { coalesceMs: 50 } }));
    expect(r2.pendingNotifications()).toBe(2);
    await clock.advance(50);
    await device.waitFor(1);
    await r2.pushIdle();
    expect(r2.pendingNotifications()).toBe(0);
    const ids = device.pushes[0]!.nids!.map((n) => openNotificationId(notifierKey, n.notifierId, fromBase64(n.sealed)!).msgId);
    expect(device.pushes[0]!.nids!.every((n) => n.notifierId === notifierId)).toBe(true);

    const c2 = track(await client(r2.url));
    c2.setQueueCreds(q.queueId, q);
    const stored: string[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await c2.get(q.queueId);
      if (!m) break;
      stored.push(m.msgId);
      await c2.ack(q.queueId, m.msgId);
    }
    expect(ids).toEqual(stored);

    // The NSUB (token, notifier key) persisted: a new flagged SEND is pushed with the same key.
    await c2.send(q.queueId, bytes('p3'), { notification: true });
    await clock.advance(50);
    await device.waitFor(2);
    const n = device.pushes[1]!.nids![0]!;
    expect(openNotificationId(notifierKey, n.notifierId, fromBase64(n.sealed)!).msgId).toBe((await c2.get(q.queueId))!.msgId);
  });
});
