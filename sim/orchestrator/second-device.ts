/**
 * The user's second phone in a real-mode run (`world.devices: 2`, docs/scenarios.md "A second
 * device"), built as `nsekit demo --devices N` builds its other devices (src/cli/user-devices.ts):
 * a src/device Device of its own — own app-group directory (store, lock, pending inbox), app and
 * NSE processes, master key and push token — with its own queue per queue index, each registered
 * for its token, behind the same cuttable proxy, its pushes through a push hold of its own. The
 * world then makes one fan-out group per queue index over both devices' queues (./world.ts).
 *
 * The engine drives device 2 through a view of the world whose device, queues and push hold are
 * device 2's, and records its ops through a view of the history recorder that tags them
 * `device: 2` (the checkers judge each device over its own ops: sim/checkers/per-device.ts).
 */
import { randomBytes } from 'node:crypto';
import { toHex } from '../../src/core/bytes.js';
import type { Device } from '../../src/device/device.js';
import type { QueueConfig } from '../../src/device/ipc.js';
import type { HistoryRecorder } from '../history/index.js';
import type { OpInput } from '../history/types.js';
import { PushHold } from './push-hold.js';
import type { SimQueue, SimWorld } from './world.js';

export interface OtherDevice {
  n: number;
  device: Device;
  queues: SimQueue[];
  pushHold: PushHold;
}

/** Start device `n`: its queues (notifier-subscribed for its token first), its processes' device, its push path. */
export async function startOtherDevice(w: SimWorld, n: number): Promise<OtherDevice> {
  const queues: SimQueue[] = [];
  for (let i = 0; i < w.world.queues; i++) queues.push(await w.createQueue());
  const token = randomBytes(16).toString('hex');
  for (const q of queues) {
    const nid = await w.senders[0]!.nsub(q.queueId, token);
    q.notifierId = nid.notifierId;
    q.notifierKey = toHex(nid.notifierKey);
  }
  const other: OtherDevice = { n, device: null as unknown as Device, queues, pushHold: new PushHold((body) => void other.device.deliverPush(body).catch(() => {})) };
  await other.pushHold.start();
  other.device = w.makeDevice(`device${n}`, queues, token, String(n));
  await other.device.start();
  await w.registerPush(token, other.pushHold.url);
  return other;
}

/** The world as device `o`'s engine sees it: everything shared, but its device, queues and push hold. */
export function deviceView(w: SimWorld, o: OtherDevice): SimWorld {
  const v = Object.create(w) as SimWorld;
  Object.defineProperties(v, {
    device: { value: o.device, writable: true },
    queues: { value: o.queues },
    pushHold: { value: o.pushHold, writable: true },
  });
  return v;
}

/** The run's own bookkeeping both devices share (untagged, unless the op names its device: a step addressed to one). */
const SHARED_FS: ReadonlySet<string> = new Set(['step', 'step.skipped', 'step.waited', 'run', 'converge', 'harness', 'harness-error']);

/** The history recorder as device `n`'s engine records through it: every op tagged `device: n` but the shared ones. */
export function deviceHistory(h: HistoryRecorder, n: number): HistoryRecorder {
  const v = Object.create(h) as HistoryRecorder;
  const append = h.append.bind(h);
  v.append = (input: OpInput) => {
    if (input.device === undefined) {
      const named = (input.value as { device?: unknown } | undefined)?.device;
      if (!SHARED_FS.has(input.f)) input = { ...input, device: n };
      else if (typeof named === 'number') input = { ...input, device: named };
    }
    return append(input);
  };
  return v;
}

/**
 * Link the devices' read sync (docs/notifications.md "Read on another device"), as `nsekit demo
 * --devices N` does (src/cli/user-devices.ts `linkReads`) and the fast world (sim/fast/devices.ts):
 * queue i of every device is conversation `c<i>`; each device gets a device-sync queue, its
 * notifier registered for that device's token (a marker wakes its NSE); each app is linked to the
 * other devices' sync queues. Before any process launches: they read their configuration then.
 * Returns each device's sync queue id, in the order given.
 */
export async function linkReadSync(w: SimWorld, devices: Device[]): Promise<string[]> {
  const sync: { queueId: string; senderKey: string; e2eKey: string }[] = [];
  for (const device of devices) {
    const opts = (device as unknown as { opts: { queues: QueueConfig[] } }).opts;
    opts.queues = opts.queues.map((q, i) => ({ ...q, conversation: `c${i}` }));
    const q = await w.createQueue();
    const nid = await w.senders[0]!.nsub(q.queueId, device.token);
    opts.queues.push({ queueId: q.queueId, recipientKey: q.recipientKey, senderKey: q.senderCred, e2eKey: q.e2eKey, statusKey: q.statusKey, notifierId: nid.notifierId, notifierKey: toHex(nid.notifierKey), deviceSync: true });
    sync.push({ queueId: q.queueId, senderKey: q.senderCred, e2eKey: q.e2eKey });
  }
  devices.forEach((device, d) => {
    const opts = (device as unknown as { opts: { procConfig?: Record<string, unknown> } }).opts;
    opts.procConfig = { ...opts.procConfig, linkedDevices: sync.filter((_, k) => k !== d) };
  });
  return sync.map((s) => s.queueId);
}
