import { describe, expect, it } from 'vitest';
import { readDeviceInbox, readDeviceStore, relayHasMessage, useWorld } from '../helpers/e2e-world.js';

describe('e2e: messages streaming while the device changes state', () => {
  const world = useWorld();

  it('every message is stored exactly once and notified at most once across app/NSE handovers', async () => {
    const w = await world({ queues: 2, notify: { coalesceMs: 20 }, procConfig: { nseGraceMs: 200 } });
    const app = await w.device.launchApp();
    await w.device.waitEvent('app', 'wake');
    const texts: string[] = [];
    let n = 0;
    const burst = async (k: number) => {
      for (let i = 0; i < k; i++) {
        const t = `storm ${++n}`;
        texts.push(t);
        await w.send(n % 2, t);
      }
    };
    // Each step changes state while the previous burst may still be in flight.
    await burst(5);
    await w.device.appLifecycle('background');
    await burst(5);
    const beforeSuspend = w.device.events.length;
    await w.device.appLifecycle('suspend');
    await w.device.waitEvent('app', 'suspended', () => true, { from: beforeSuspend });
    w.device.freeze(app);
    await burst(5);
    await w.device.appLifecycle('active'); // thaw + NSE yield + wake
    await burst(5);
    w.device.lock();
    await w.device.appLifecycle('suspend');
    await burst(5);
    w.device.unlock();
    const lastActive = w.device.events.length;
    await w.device.appLifecycle('active');
    await burst(5);

    // Everything is ACKed at the relay (after its durable write, by whichever process got it).
    const acked = () => new Set(w.device.events.filter((e) => e.name === 'acked').map((e) => e.msgId));
    await w.device.waitFor(() => acked().size >= texts.length, { timeoutMs: 45_000, what: `${texts.length} ACKs` });
    // The final foreground wake imports the inbox; an NSE append that raced it is imported by the next wake.
    await w.device.waitEvent('app', 'wake', () => true, { from: lastActive, timeoutMs: 45_000 });
    if (readDeviceInbox(w).length) {
      const again = w.device.events.length;
      await w.device.appLifecycle('active');
      await w.device.waitEvent('app', 'wake', () => true, { from: again, timeoutMs: 45_000 });
    }
    expect(readDeviceInbox(w)).toEqual([]);
    const snap = await readDeviceStore(w);
    expect(snap.integrity).toBe('ok');
    const stored = [...snap.texts.values()];
    expect(stored.length).toBe(new Set(stored).size); // no duplicates
    expect(stored.sort()).toEqual([...texts].sort()); // no loss
    expect(await relayHasMessage(w, 0)).toBe(false);
    expect(await relayHasMessage(w, 1)).toBe(false);
    const noted = w.device.events.filter((e) => e.name === 'notification' && !e.bestAttempt).map((e) => e.msgId);
    const twice = noted.filter((m, i) => noted.indexOf(m) !== i);
    const history = (m: unknown) => w.device.events.filter((x) => x.msgId === m).map((x) => `${x.role}:${x.name}`).join(',');
    expect(twice.map(history), 'notified twice').toEqual([]);
    expect(w.device.violations).toEqual([]);
  }, 120_000);
});
