import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fromBase64 } from '../../src/core/bytes.js';
import { decodeClientFrame } from '../../src/core/protocol/codec.js';
import { openNotificationId } from '../../src/core/protocol/notification-id.js';
import type { Log } from '../../src/core/host.js';
import type { WsTransport } from '../../src/node/transport/ws-transport.js';
import { startPushGateway, type RunningPushGateway } from '../../src/relay/push-gateway.js';
import type { RunningRelay } from '../../src/relay/server.js';
import { silentLog } from '../../src/node/host.js';
import { SimClock } from '../helpers/sim-clock.js';
import { DeviceListener, bytes, client, registerDevice, relay, tempDir } from './fixtures.js';

const COALESCE = 50;
const TOK_A = 'deviceAtoken000000000000000000000000000001';
const TOK_B = 'deviceBtoken000000000000000000000000000002';

describe('relay: fan-out to a user\'s devices (GNEW / GSEND)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let clock: SimClock;
  let gw: RunningPushGateway;
  let devA: DeviceListener;
  let devB: DeviceListener;
  let r: RunningRelay;
  let c: WsTransport;
  const lines: string[] = [];

  beforeEach(async () => {
    tmp = tempDir();
    clock = new SimClock();
    devA = await new DeviceListener().start();
    devB = await new DeviceListener().start();
    gw = await startPushGateway({ log: silentLog });
    await registerDevice(gw.url, TOK_A, devA.url);
    await registerDevice(gw.url, TOK_B, devB.url);
    lines.length = 0;
    const log: Log = { log: (_l, tag, msg, fields) => lines.push(`[${tag}] ${msg}${fields ? ' ' + JSON.stringify(fields) : ''}`) };
    r = await relay({ dbPath: tmp.db, clock, pushGatewayUrl: gw.url, notify: { coalesceMs: COALESCE }, log });
    c = await client(r.url);
  });
  afterEach(async () => {
    await c.close();
    await r.close();
    await gw.close();
    await devA.close();
    await devB.close();
    tmp.cleanup();
  });

  /** Two devices of one user: a queue each, each with its own token. */
  async function twoDevices() {
    const qa = await c.createQueue();
    const qb = await c.createQueue();
    const na = await c.nsub(qa.queueId, TOK_A);
    const nb = await c.nsub(qb.queueId, TOK_B);
    return { qa, qb, na, nb };
  }

  it('codec: GNEW members and GSEND parts are checked (non-empty, at most 32, no queue twice)', () => {
    const gsend = (parts: unknown) => JSON.stringify({ type: 'GSEND', corrId: '1', groupId: 'g', groupCred: 'c', flags: { notification: true }, parts });
    expect(decodeClientFrame(gsend([{ queueId: 'a', body: 'AA==' }, { queueId: 'b', body: '' }]))).toMatchObject({ type: 'GSEND', parts: [{ queueId: 'a' }, { queueId: 'b' }] });
    expect(() => decodeClientFrame(gsend([]))).toThrow(/parts/);
    expect(() => decodeClientFrame(gsend([{ queueId: 'a', body: '' }, { queueId: 'a', body: '' }]))).toThrow(/twice/);
    expect(() => decodeClientFrame(gsend([{ queueId: 'a', body: 'not base64!' }]))).toThrow(/parts\[0\]\.body|body/);
    expect(() => decodeClientFrame(JSON.stringify({ type: 'GNEW', corrId: '1', members: Array.from({ length: 33 }, (_, i) => ({ queueId: `q${i}`, senderCred: 's' })) }))).toThrow(/members/);
  });

  it('one GSEND stores into every member queue and pushes each device once; notify:fanout is logged with the recipients', async () => {
    const { qa, qb, na, nb } = await twoDevices();
    const g = await c.createGroup([{ queueId: qa.queueId }, { queueId: qb.queueId }]);
    const sent = await c.groupSend(g, [{ queueId: qa.queueId, body: bytes('for A') }, { queueId: qb.queueId, body: bytes('for B') }], { notification: true });
    const ma = (await c.get(qa.queueId))!;
    const mb = (await c.get(qb.queueId))!;
    expect(sent.msgIds).toEqual([ma.msgId, mb.msgId]);
    expect(new TextDecoder().decode(ma.body)).toBe('for A');
    expect(new TextDecoder().decode(mb.body)).toBe('for B');
    expect(r.pendingNotifications()).toBe(2);
    await clock.advance(COALESCE);
    await r.pushIdle();
    await devA.waitFor(1);
    await devB.waitFor(1);
    expect([devA.pushes.length, devB.pushes.length]).toEqual([1, 1]);
    expect(openNotificationId(na.notifierKey, na.notifierId, fromBase64(devA.pushes[0]!.nids![0]!.sealed)!).msgId).toBe(ma.msgId);
    expect(openNotificationId(nb.notifierKey, nb.notifierId, fromBase64(devB.pushes[0]!.nids![0]!.sealed)!).msgId).toBe(mb.msgId);
    const fan = lines.filter((l) => l.startsWith('[push] notify:fanout'));
    expect(fan).toEqual([expect.stringMatching(new RegExp(`^\\[push\\] notify:fanout group=${g.groupId.slice(0, 6)}… recipients=2 `))]);
    expect(lines.join('\n')).not.toContain(g.groupId);
  });

  it('all or nothing: a full member queue refuses the whole GSEND (PROTO_QUOTA), nothing stored anywhere', async () => {
    await r.close();
    r = await relay({ dbPath: tmp.db, clock, pushGatewayUrl: gw.url, limits: { maxQueueMessages: 1 } });
    await c.close();
    c = await client(r.url);
    const { qa, qb } = await twoDevices();
    const g = await c.createGroup([{ queueId: qa.queueId }, { queueId: qb.queueId }]);
    await c.send(qb.queueId, bytes('fills B'), { notification: false });
    await expect(c.groupSend(g, [{ queueId: qa.queueId, body: bytes('x') }, { queueId: qb.queueId, body: bytes('x') }], { notification: true })).rejects.toMatchObject({ code: 'PROTO_QUOTA' });
    expect(await c.get(qa.queueId)).toBeNull();
    expect(r.pendingNotifications()).toBe(0);
  });

  it('a repeated GSEND with the same clientId stores nothing new on any member', async () => {
    const { qa, qb } = await twoDevices();
    const g = await c.createGroup([{ queueId: qa.queueId }, { queueId: qb.queueId }]);
    const parts = [{ queueId: qa.queueId, body: bytes('once') }, { queueId: qb.queueId, body: bytes('once') }];
    const first = await c.groupSend(g, parts, { notification: true }, { clientId: 'fan-1' });
    expect(first).toMatchObject({ duplicate: false });
    expect(first.msgIds).toHaveLength(2);
    // The repeat answers the original ids.
    expect(await c.groupSend(g, parts, { notification: true }, { clientId: 'fan-1' })).toEqual({ duplicate: true, msgIds: first.msgIds });
    for (const q of [qa, qb]) {
      const m = (await c.get(q.queueId))!;
      await c.ack(q.queueId, m.msgId);
      expect(await c.get(q.queueId)).toBeNull();
    }
    expect(lines.filter((l) => l.startsWith('[push] notify:fanout'))).toHaveLength(1);
  });

  it('refusals: wrong group credential, parts that miss or add a member, a member credential that does not match', async () => {
    const { qa, qb } = await twoDevices();
    const other = await c.createQueue();
    await expect(c.createGroup([{ queueId: qa.queueId }, { queueId: qb.queueId, senderCred: 'wrong' }])).rejects.toMatchObject({ code: 'PROTO_AUTH' });
    const g = await c.createGroup([{ queueId: qa.queueId }, { queueId: qb.queueId }]);
    await expect(c.groupSend({ ...g, groupCred: 'nope' }, [{ queueId: qa.queueId, body: bytes('x') }, { queueId: qb.queueId, body: bytes('x') }], { notification: true })).rejects.toMatchObject({ code: 'PROTO_AUTH' });
    await expect(c.groupSend(g, [{ queueId: qa.queueId, body: bytes('x') }], { notification: true })).rejects.toMatchObject({ code: 'PROTO_GROUP_MEMBERS' });
    await expect(c.groupSend(g, [{ queueId: qa.queueId, body: bytes('x') }, { queueId: other.queueId, body: bytes('x') }], { notification: true })).rejects.toMatchObject({ code: 'PROTO_GROUP_MEMBERS' });
    expect(await c.get(qa.queueId)).toBeNull();
    expect(await c.get(qb.queueId)).toBeNull();
  });

  it('a member device logged out (NDEL) still gets the message in its queue, but no push', async () => {
    const { qa, qb } = await twoDevices();
    const g = await c.createGroup([{ queueId: qa.queueId }, { queueId: qb.queueId }]);
    await c.ndel(qb.queueId);
    await c.groupSend(g, [{ queueId: qa.queueId, body: bytes('x') }, { queueId: qb.queueId, body: bytes('x') }], { notification: true });
    await clock.advance(COALESCE);
    await r.pushIdle();
    await devA.waitFor(1);
    expect([devA.pushes.length, devB.pushes.length]).toEqual([1, 0]);
    expect(await c.get(qb.queueId)).not.toBeNull();
    expect(lines.some((l) => l.includes('notify:fanout') && l.includes('recipients=1'))).toBe(true);
  });
});
