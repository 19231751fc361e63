import { describe, expect, it } from 'vitest';
import { readDeviceStore, relayHasMessage, useWorld } from '../helpers/e2e-world.js';

describe('e2e: instant mode (real app process, ws SUB)', () => {
  const world = useWorld();

  it('delivers messages to the foreground app over its subscription, stored once and ACKed', async () => {
    const w = await world({ mode: 'instant' });
    await w.device.launchApp();
    await w.device.waitEvent('app', 'wake', (e) => e.reason === 'resume');
    const from = w.device.events.length;
    for (let i = 0; i < 3; i++) await w.send(0, `hello ${i}`);
    const stored = await w.device.waitCount('app', 'stored', 3, (e) => e.via === 'sub', { from });
    await w.device.waitCount('app', 'acked', 3, () => true, { from });
    const ids = stored.map((e) => e.msgId);
    expect(new Set(ids).size).toBe(3);
    const snap = await readDeviceStore(w);
    expect(snap.integrity).toBe('ok');
    expect([...snap.texts.values()].sort()).toEqual(['hello 0', 'hello 1', 'hello 2']);
    expect(await relayHasMessage(w, 0)).toBe(false);
    // In foreground the NSE is not involved.
    expect(w.device.nseHistory.length).toBe(0);
  });
});
