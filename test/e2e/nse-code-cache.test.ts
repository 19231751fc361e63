import { describe, expect, it } from 'vitest';
import { useWorld, suspendAndFreezeApp } from '../helpers/e2e-world.js';

describe('e2e: the NSE launches from a V8 code cache after its first content', () => {
  const world = useWorld();

  it('first launch compiles and writes the cache; a later cold launch uses it and delivers alike', async () => {
    const w = await world({ procConfig: { nseGraceMs: 60_000 } });
    await suspendAndFreezeApp(w);
    const states: unknown[] = [];
    for (const text of ['first launch', 'second launch', 'third launch']) {
      if (w.device.nse?.alive) await w.device.nse.kill(); // a cold launch each time
      const from = w.device.events.length;
      await w.send(0, text);
      await w.device.waitEvent('nse', 'notification', (e) => e.body === text, { from, timeoutMs: 40_000 });
      const ready = w.device.events.slice(from).find((e) => e.name === 'ready' && e.role === 'nse');
      states.push(ready?.codeCache);
    }
    // Written right before the first notification, so it exists even though that NSE is killed at once.
    expect(states).toEqual(['none', 'used', 'used']);
    expect(w.device.notificationsShown()).toBe(3);
  });
});
