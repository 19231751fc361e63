/**
 * `nsekit demo --devices N`: the user's other phones (src/cli/user-devices.ts). Every message the
 * demo sends goes to all devices at once (a fan-out, docs/protocol.md); the walk follows device 1,
 * the others spend the demo suspended and frozen in the background, so their NSEs take every
 * message from the push; at the end they are brought to the front and each store is read back:
 * every message must be there exactly once per device.
 */
import { UserDevices } from '../user-devices.js';
import type { World } from '../world.js';
import { readBack, type OtherDevice } from './report.js';
import type { Tracker } from './tracker.js';

export async function startOtherDevices(w: World, n: number, waitMs: number, say: (l: string) => void): Promise<UserDevices> {
  const u = new UserDevices(w);
  await u.addDevices(n);
  for (const [i, d] of u.devices.slice(1).entries()) {
    const app = await d.launchApp();
    await d.waitEvent('app', 'wake', () => true, { timeoutMs: waitMs }).catch(() => {});
    const from = d.events.length;
    await d.appLifecycle('suspend');
    const suspended = await d.waitEvent('app', 'suspended', () => true, { from, timeoutMs: waitMs }).then(() => true, () => false);
    say(`   device ${i + 2}: app pid ${app.pid} launched, suspended${suspended ? `, freeze: ${d.freeze(app)}` : ' (not in time: left running)'} — its NSE takes the pushes`);
  }
  return u;
}

/** Bring the other devices to the front and wait (bounded) until each has stored its copy of every message. */
export async function settleOtherDevices(u: UserDevices, t: Tracker, waitMs: number): Promise<boolean> {
  let all = true;
  for (const [i, d] of u.devices.entries()) {
    if (i === 0) continue;
    d.unlock();
    await d.appLifecycle('active');
    const has = (id: string | undefined) => d.events.some((e) => e.name === 'stored' && e.msgId === id);
    const ok = await t.until(() => t.sent.every((s) => s.fromApp || has(s.msgIds?.[i])), waitMs);
    all &&= ok;
  }
  return all;
}

export async function readOtherDevices(u: UserDevices): Promise<OtherDevice[]> {
  const others: OtherDevice[] = [];
  for (const [i, d] of u.devices.entries()) {
    if (i === 0) continue;
    const back = await readBack({ device: d }).catch(() => null);
    const stored = d.events.filter((e) => e.name === 'stored' && !e.duplicate);
    others.push({ name: `device ${i + 1}`, back, violations: d.violations.length, via: { app: stored.filter((e) => e.role === 'app').length, nse: stored.filter((e) => e.role === 'nse').length } });
  }
  return others;
}
