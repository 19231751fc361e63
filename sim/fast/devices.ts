/**
 * A second device in the fast mode (`world.devices: 2`, docs/scenarios.md "A second device"): a
 * user with two phones. Device 2 is a second FastWorld — its own app and NSE instances running the
 * same shipping sessions, its own lock table, store, pending inbox, keychain key, push token and
 * member queue of every group — sharing the relay, the scheduler, the seeded randomness and the
 * history (where each device's ops carry its number). The world's queues become fan-out groups,
 * as `nsekit demo --devices N` builds them with real processes (src/cli/demo): a `send` to queue
 * index i is one GSEND to group i, stored into every device's queue i at once and pushed to each
 * device's token (sim/fast/relay.ts `groupSend`, src/relay/groups.ts).
 */
import { toHex } from '../../src/core/bytes.js';
import { sentDigests } from '../history/digest.js';
import { sealForQueue } from '../../src/core/inbound/index.js';
import type { SessionComponents } from '../../src/core/session/index.js';
import type { BrokenVariant } from '../broken.js';
import type { World } from '../scenario/index.js';
import { IosRules } from './ios-rules.js';
import { FastWindows } from './windows.js';
import { FastWorld } from './world.js';

/** One device as the step runner drives it: its world and the iOS rules and windows applied to it. */
export interface FastDevice {
  n: number;
  w: FastWorld;
  rules: IosRules;
  windows: FastWindows;
}

/** The worlds of a run: device 1 first; with `world.devices: 2` device 2 shares its relay and history. */
export function buildWorlds(world: World, seed: number, broken?: BrokenVariant, components?: SessionComponents): FastWorld[] {
  const n = world.devices ?? 1;
  if (n === 1) return [new FastWorld(world, seed, broken, components)];
  const w1 = new FastWorld(world, seed, broken, components, { device: 1 });
  const worlds = [w1];
  for (let d = 2; d <= n; d++) worlds.push(new FastWorld(world, seed, broken, components, { device: d, base: w1 }));
  const send = groupSend(worlds);
  for (const w of worlds) w.fanout = send;
  linkReadSync(worlds);
  return worlds;
}

/**
 * Read on one device, cleared on the others (docs/notifications.md "Read on another device"), as
 * `nsekit demo --devices N` links real phones: queue i of every device is conversation `c<i>`,
 * each device has a device-sync queue (its last queue id, `…sync`), and each app is linked to
 * the other devices' sync queues, so a tap sends them a read marker.
 */
function linkReadSync(worlds: FastWorld[]): void {
  for (const w of worlds) {
    const linkedDevices = worlds
      .filter((o) => o !== w)
      .map((o) => {
        const queueId = o.queueIds[o.queueIds.length - 1]!;
        return { queueId, senderKey: `snd-${queueId}`, e2eKey: toHex(o.e2eKeys.get(queueId)!) };
      });
    const before = w.configure;
    w.configure = (role, cfg) => before(role, role === 'app' ? { ...cfg, linkedDevices } : cfg);
  }
}

/** Each world with its iOS rules and windows (built once per world: they hook its freeze and launch). */
export function devicesOf(worlds: FastWorld[], first: { rules: IosRules; windows: FastWindows }): FastDevice[] {
  return worlds.map((w, i) => {
    if (i === 0) return { n: w.device ?? 1, w, ...first };
    const rules = new IosRules(w);
    return { n: w.device ?? i + 1, w, rules, windows: new FastWindows(w, rules) };
  });
}

/**
 * A sender's message to a user on several devices: one sealed copy per member queue (each device
 * has its own e2e key), stored by one GSEND. Recorded per device as that device's `sender send`
 * (same label, that device's queue and relay msgId), so each device's checkers see the message
 * sent to it — it must reach every device exactly once.
 */
function groupSend(worlds: FastWorld[]): (queue: number, sender: number, notification: boolean, bytes: number, poison: boolean) => void {
  const w1 = worlds[0]!;
  return (queue, sender, notification, bytes, poison) => {
    const n = w1.markers.length + 1;
    const marker = `nsekitPLAIN${n}z`;
    w1.markers.push(marker);
    const text = (marker + ' ' + 'x'.repeat(Math.max(0, bytes - marker.length - 1))).slice(0, Math.max(marker.length, bytes));
    const label = `m${n}`;
    const parts = worlds.map((w) => {
      const queueId = w.queueIds[queue]!;
      w.h.invoke('sender', 'send', { label, queueId, sender, group: `g${queue}` }, { ref: n });
      return { queueId, body: sealForQueue(poison ? w.rng.randomBytes(32) : w.e2eKeys.get(queueId)!, w.rng, queueId, { type: 'text', text }) };
    });
    const ms = w1.relay.groupSend(parts, { notification });
    const digests = sentDigests(text);
    worlds.forEach((w, i) => w.h.ok('sender', 'send', { label, queueId: ms[i]!.queueId, msgId: ms[i]!.msgId, group: `g${queue}`, notification, ...digests, ...(poison ? { poison } : {}) }, { ref: n }));
  };
}
