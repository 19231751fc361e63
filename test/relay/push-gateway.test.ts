import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLog } from '../../src/node/host.js';
import { startPushGateway, type RunningPushGateway } from '../../src/relay/push-gateway.js';
import { SimClock } from '../helpers/sim-clock.js';
import { DeviceListener, registerDevice } from './fixtures.js';

describe('push gateway (simulated APNs)', () => {
  let clock: SimClock;
  let gw: RunningPushGateway;
  let device: DeviceListener;

  const post = async (path: string, body: unknown) => {
    const res = await fetch(gw.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeEach(async () => {
    clock = new SimClock();
    device = await new DeviceListener().start();
    gw = await startPushGateway({ clock, backgroundPushesPerHour: 2, log: silentLog });
    await registerDevice(gw.url, 'tok1', device.url);
  });
  afterEach(async () => {
    await gw.close();
    await device.close();
  });

  it('delivers an alert push with mutable-content and the payload fields', async () => {
    const nids = [{ notifierId: 'n1', sealed: 'AAAA' }];
    expect(await post('/push', { token: 'tok1', type: 'alert', payload: { nids } })).toEqual({ status: 200, body: { ok: true } });
    expect(device.pushes).toHaveLength(1);
    expect(device.pushes[0]!.aps['mutable-content']).toBe(1);
    expect(device.pushes[0]!.nids).toEqual(nids);
    expect(gw.stats().alertsDelivered).toBe(1);
  });

  it('throttles background pushes per token per rolling hour; alerts are not throttled', async () => {
    const bg = { token: 'tok1', type: 'background', payload: {} };
    expect((await post('/push', bg)).status).toBe(200);
    expect((await post('/push', bg)).status).toBe(200);
    expect(await post('/push', bg)).toEqual({ status: 429, body: { reason: 'TooManyRequests' } });
    expect((await post('/push', { token: 'tok1', type: 'alert', payload: {} })).status).toBe(200);
    expect(device.pushes.filter((p) => p.aps['content-available'] === 1)).toHaveLength(2);
    await clock.advance(3600_000);
    expect((await post('/push', bg)).status).toBe(200);
    expect(gw.stats()).toMatchObject({ backgroundDelivered: 3, throttled: 1, alertsDelivered: 1 });
  });

  it('an invalidated token gets 410; re-registering revives it', async () => {
    expect((await post('/invalidate', { token: 'tok1' })).status).toBe(200);
    expect(await post('/push', { token: 'tok1', type: 'alert', payload: {} })).toEqual({ status: 410, body: { reason: 'Unregistered' } });
    await registerDevice(gw.url, 'tok1', device.url);
    expect((await post('/push', { token: 'tok1', type: 'alert', payload: {} })).status).toBe(200);
  });

  it('a device answering 410 deactivates the token; an unreachable device → 503', async () => {
    device.status = 503;
    expect(await post('/push', { token: 'tok1', payload: {} })).toEqual({ status: 503, body: { reason: 'DeviceUnreachable' } });
    device.status = 410;
    expect((await post('/push', { token: 'tok1', payload: {} })).status).toBe(410);
    device.status = 200;
    expect((await post('/push', { token: 'tok1', payload: {} })).status).toBe(410);
    expect(device.pushes).toHaveLength(0);
  });

  it('refuses unknown tokens and bad requests', async () => {
    expect(await post('/push', { token: 'nobody', payload: {} })).toEqual({ status: 400, body: { reason: 'BadDeviceToken' } });
    expect((await post('/push', '{oops')).status).toBe(400);
    expect((await post('/push', { token: 'tok1', type: 'weird', payload: {} })).status).toBe(400);
    expect((await post('/register', { token: 't2', deviceUrl: 'http://example.com/' })).status).toBe(400);
    expect((await post('/push', { token: 'x', pad: 'y'.repeat(70_000) })).status).toBe(413);
    expect((await post('/nowhere', {})).status).toBe(404);
  });
});
