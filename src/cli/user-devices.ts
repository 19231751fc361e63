import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { toHex } from '../core/bytes.js';
import type { MessageContent } from '../core/content.js';
import { sealForQueue } from '../core/inbound/index.js';
import { generateStatusKeypair } from '../core/protocol/index.js';
import { Device } from '../device/device.js';
import type { QueueConfig } from '../device/ipc.js';
import { nodeRng } from '../node/host.js';
import type { World } from './world.js';

type DeviceQueue = QueueConfig & { senderCred: string; e2e: Uint8Array };

/**
 * One user with several devices (docs/protocol.md "Fan-out to a user's devices"): the World's
 * device is device 1; each added device is a phone of its own (own app-group directory, app and
 * NSE processes, push token, master key) with its own queues — queue `i` of every device is one
 * conversation. A fan-out group per conversation lets the sender address the user once: `send`
 * seals a part per device queue and the relay stores all of them in one transaction (GSEND).
 */
export class UserDevices {
  /** Devices added beyond the World's own, with their queues (same order as the World's). */
  readonly extra: { device: Device; queues: DeviceQueue[] }[] = [];
  /** Per conversation (queue index): the fan-out group over every device's queue `i`. */
  readonly groups: { groupId: string; groupCred: string }[] = [];

  constructor(readonly w: World) {}

  /** Every device, the World's first. */
  get devices(): Device[] {
    return [this.w.device, ...this.extra.map((e) => e.device)];
  }

  /** Every device's queues, device by device. */
  queuesOf(d: number): DeviceQueue[] {
    return d === 0 ? this.w.queues : this.extra[d - 1]!.queues;
  }

  /** Add `n` devices (the World must be started), then (re)build one group per conversation. */
  async addDevices(n: number): Promise<this> {
    const { w } = this;
    for (let k = 0; k < n; k++) {
      const queues: DeviceQueue[] = [];
      for (let i = 0; i < w.queues.length; i++) {
        const kp = generateStatusKeypair(nodeRng);
        const ids = await w.sender.createQueue({ recipientKey: kp.publicKey });
        const e2e = new Uint8Array(randomBytes(32));
        queues.push({ queueId: ids.queueId, recipientKey: ids.recipientCred, senderCred: ids.senderCred, e2eKey: toHex(e2e), e2e, statusKey: toHex(kp.secretKey) });
      }
      const device = new Device({
        sharedDir: join(w.dir, `device${this.extra.length + 2}`),
        relayUrl: w.relay.url,
        relayHttpUrl: w.relay.httpUrl,
        gatewayUrl: w.gateway.url,
        queues: queues.map(({ senderCred: _s, e2e: _e, ...q }) => q),
        procConfig: { mode: w.opts.mode ?? 'instant', ...w.opts.procConfig },
        ...(w.opts.procOpts ? { procOpts: w.opts.procOpts } : {}),
        log: w.log,
      });
      this.extra.push({ device, queues });
      await device.start();
      // As the World does for its device: the notifier of each queue, registered before the processes launch.
      const cfgQueues = (device as unknown as { opts: { queues: QueueConfig[] } }).opts.queues;
      for (const q of queues) {
        const nid = await w.sender.nsub(q.queueId, device.token);
        for (const target of [q, cfgQueues.find((c) => c.queueId === q.queueId)!]) {
          target.notifierId = nid.notifierId;
          target.notifierKey = toHex(nid.notifierKey);
        }
      }
    }
    this.groups.length = 0;
    for (let i = 0; i < w.queues.length; i++) {
      this.groups.push(await w.sender.createGroup(this.devices.map((_, d) => ({ queueId: this.queuesOf(d)[i]!.queueId, senderCred: this.queuesOf(d)[i]!.senderCred }))));
    }
    return this;
  }

  /**
   * Link the devices for reads (docs/notifications.md "Read on another device"): each device gets a
   * device-sync queue (its notifier registered with its token, so a marker wakes its NSE), its
   * queue `i` the conversation key `c<i>`, and its app the other devices' sync queues. Call after
   * addDevices and before the processes launch (they read their configuration at launch).
   */
  async linkReads(): Promise<this> {
    const { w } = this;
    const syncQueues: { queueId: string; senderKey: string; e2eKey: string }[] = [];
    for (const device of this.devices) {
      const opts = (device as unknown as { opts: { queues: QueueConfig[]; procConfig?: Record<string, unknown> } }).opts;
      opts.queues = opts.queues.map((q) => {
        const i = this.queuesOfDevice(device).findIndex((x) => x.queueId === q.queueId);
        return i < 0 ? q : { ...q, conversation: `c${i}` };
      });
      const ids = await w.sender.createQueue();
      const e2eKey = toHex(new Uint8Array(randomBytes(32)));
      const nid = await w.sender.nsub(ids.queueId, device.token);
      opts.queues.push({ queueId: ids.queueId, recipientKey: ids.recipientCred, e2eKey, notifierId: nid.notifierId, notifierKey: toHex(nid.notifierKey), deviceSync: true });
      syncQueues.push({ queueId: ids.queueId, senderKey: ids.senderCred, e2eKey });
    }
    this.devices.forEach((device, d) => {
      const opts = (device as unknown as { opts: { procConfig?: Record<string, unknown> } }).opts;
      opts.procConfig = { ...opts.procConfig, linkedDevices: syncQueues.filter((_, k) => k !== d) };
    });
    return this;
  }

  private queuesOfDevice(device: Device): DeviceQueue[] {
    return this.queuesOf(this.devices.indexOf(device));
  }

  /** Send one message to conversation `q` on every device at once (GSEND); returns each device's msgId, in device order. */
  async send(q: number, text: string, opts: { notification?: boolean; type?: MessageContent['type']; clientId?: string } = {}): Promise<string[]> {
    const { w } = this;
    const parts = this.devices.map((_, d) => {
      const queue = this.queuesOf(d)[q]!;
      return { queueId: queue.queueId, body: sealForQueue(queue.e2e, nodeRng, queue.queueId, { type: opts.type ?? 'text', text }) };
    });
    if (!w.sender.connected) await w.sender.connect();
    const r = await w.sender.groupSend(this.groups[q]!, parts, { notification: opts.notification ?? true }, opts.clientId !== undefined ? { clientId: opts.clientId } : {});
    return r.msgIds;
  }

  /** Stop the added devices (the World stops its own). */
  async stop(): Promise<void> {
    await Promise.all(this.extra.map((e) => e.device.stop().catch(() => {})));
  }
}
