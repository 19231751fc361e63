import { describe, expect, it } from 'vitest';
import { Backoff } from '../../src/core/session/index.js';
import { Device } from '../../src/device/device.js';
import { isCommand, isEvent } from '../../src/device/ipc.js';

/** Fast checks of the pure parts the e2e tests build on (no processes). */
describe('device/app pure parts', () => {
  it('Backoff doubles its window up to the cap, with jitter in [ceil/2, ceil], reproducible from the Rng', () => {
    const seeded = () => {
      let n = 0;
      return { randomBytes: (k: number) => Uint8Array.from({ length: k }, () => (n++ * 37) & 255) };
    };
    const b = new Backoff(seeded(), 100, 1_000);
    const delays = [100, 200, 400, 800, 1_000, 1_000].map((ceil) => {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(ceil / 2);
      expect(d).toBeLessThanOrEqual(ceil);
      return d;
    });
    const replay = new Backoff(seeded(), 100, 1_000);
    expect(delays.map(() => replay.next())).toEqual(delays);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBeLessThanOrEqual(100);
  });

  it('a gateway payload becomes notification items ({aps, nids} as the gateway sends it)', () => {
    const nids = [{ notifierId: 'n1', sealed: 'AAAA' }];
    expect(Device.pushItems({ aps: { 'mutable-content': 1 }, nids })).toEqual(nids);
    expect(Device.pushItems({ payload: { nids } })).toEqual(nids);
    expect(Device.pushItems(nids)).toEqual(nids);
    expect(Device.pushItems('junk')).toEqual([]);
  });

  it('IPC messages are told apart by type', () => {
    expect(isCommand({ type: 'lifecycle', event: 'active' })).toBe(true);
    expect(isCommand({ type: 'fp-release', seq: 1 })).toBe(false);
    expect(isCommand(null)).toBe(false);
    expect(isEvent({ type: 'event', name: 'ready', at: 1 })).toBe(true);
    expect(isEvent({ type: 'fp', name: 'x' })).toBe(false);
  });
});
