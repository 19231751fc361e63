import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { toHex } from '../../src/core/bytes.js';
import type { Log } from '../../src/core/host.js';
import { sealForQueue } from '../../src/core/inbound/index.js';
import { generateStatusKeypair } from '../../src/core/protocol/index.js';
import type { Entries } from '../../src/device/bundle.js';
import { Device } from '../../src/device/device.js';
import type { QueueConfig } from '../../src/device/ipc.js';
import { nodeRng } from '../../src/node/host.js';
import { WsTransport } from '../../src/node/transport/ws-transport.js';
import { startPushGateway, startRelay, type RunningPushGateway, type RunningRelay } from '../../src/relay/index.js';
import type { World } from '../scenario/index.js';
import { NetProxy } from './net-proxy.js';
import { PushHold } from './push-hold.js';
import { installRelayTap } from './relay-tap.js';
import { deviceView, linkReadSync, startOtherDevice, type OtherDevice } from './second-device.js';

/** A Log that appends `time tag level msg fields` lines to a file (a run's relay.log etc.). */
export function fileLog(path: string, proc: string): Log {
  return {
    log(level, tag, msg, fields) {
      const kv = fields ? ' ' + Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ') : '';
      appendFileSync(path, `${new Date().toISOString()} ${proc} ${level.toUpperCase()} [${tag}] ${msg}${kv}\n`);
    },
  };
}

export interface SimQueue extends QueueConfig {
  senderCred: string;
  e2e: Uint8Array;
}

/** Derived process timings (run ms) handed to the app and NSE. */
export interface ProcTimings {
  nseBudgetMs: number;
  nseGraceMs: number;
}

/** How the device runs its processes: extra env, and other entry modules than the shipping ones (sim/real). */
export interface WorldProcs {
  env?: Record<string, string>;
  entries?: Entries;
  /** Session configuration the run overrides (a broken variant's store durability). */
  config?: { storeSync?: 'normal' };
}

/**
 * The simulated world of one run: push gateway, relay (own SQLite in the run
 * dir), the device's network path through a cuttable proxy, a push hold
 * between gateway and device, N sender clients, and the Device (app + NSE
 * processes, spawned from the esbuild bundle with failpoints reported over IPC).
 */
export class SimWorld {
  gateway!: RunningPushGateway;
  relay!: RunningRelay;
  proxy!: NetProxy;
  pushHold!: PushHold;
  device!: Device;
  senders: WsTransport[] = [];
  readonly queues: SimQueue[] = [];
  /** `world.devices: 2`: the user's second phone, and per queue index the fan-out group over both devices' queue (./second-device.ts). */
  readonly others: OtherDevice[] = [];
  readonly groups: { groupId: string; groupCred: string }[] = [];
  /** Two devices: each device's device-sync queue (./second-device.ts `linkReadSync`). */
  readonly syncQueues = new Map<Device, string>();
  private relayPort = 0;

  constructor(
    readonly dir: string,
    readonly world: World,
    readonly timings: ProcTimings,
    private readonly onProcLog: (role: string, line: string) => void,
    private readonly procs: WorldProcs = {},
  ) {
    mkdirSync(dir, { recursive: true });
  }

  get relayLog(): Log {
    return fileLog(join(this.dir, 'relay.log'), 'relay');
  }

  async start(): Promise<void> {
    installRelayTap();
    this.gateway = await startPushGateway({ log: fileLog(join(this.dir, 'gateway.log'), 'gateway') });
    await this.startRelay();
    this.proxy = new NetProxy(this.relayPort);
    await this.proxy.start();
    for (let i = 0; i < this.world.senders; i++) {
      const s = new WsTransport({ url: this.relay.url, log: this.relayLog });
      await s.connect();
      this.senders.push(s);
    }
    const first = this.senders[0]!;
    for (let i = 0; i < this.world.queues; i++) this.queues.push(await this.createQueue());
    this.pushHold = new PushHold((body) => void this.device.deliverPush(body).catch(() => {}));
    await this.pushHold.start();
    // Notifier subscriptions first, so the queue configs the device hands its processes carry them.
    const token = randomBytes(16).toString('hex');
    for (const q of this.queues) {
      const nid = await first.nsub(q.queueId, token);
      q.notifierId = nid.notifierId;
      q.notifierKey = toHex(nid.notifierKey);
    }
    this.device = this.makeDevice('device', this.queues, token, '');
    await this.device.start();
    // The gateway delivers to our hold, which hands pushes to the device.
    await this.registerPush(token, this.pushHold.url);
    if ((this.world.devices ?? 1) > 1) {
      this.others.push(await startOtherDevice(this, 2));
      // One fan-out group per queue index over every device's queue i (as src/cli/user-devices.ts).
      for (let i = 0; i < this.queues.length; i++) {
        const members = [this.queues[i]!, ...this.others.map((o) => o.queues[i]!)].map((q) => ({ queueId: q.queueId, senderCred: q.senderCred }));
        this.groups.push(await first.createGroup(members));
      }
      const devices = [this.device, ...this.others.map((o) => o.device)];
      (await linkReadSync(this, devices)).forEach((id, k) => this.syncQueues.set(devices[k]!, id));
    }
  }

  /** Create queue `i`'s relay queue for a device (recipient key, e2e key, status key). */
  async createQueue(): Promise<SimQueue> {
    const kp = generateStatusKeypair(nodeRng);
    const ids = await this.senders[0]!.createQueue({ recipientKey: kp.publicKey });
    for (const s of this.senders.slice(1)) s.setQueueCreds(ids.queueId, { recipientCred: ids.recipientCred, senderCred: ids.senderCred });
    const e2e = new Uint8Array(randomBytes(32));
    return { queueId: ids.queueId, recipientKey: ids.recipientCred, senderCred: ids.senderCred, e2eKey: toHex(e2e), e2e, statusKey: toHex(kp.secretKey) };
  }

  /** The push gateway delivers `token`'s pushes to `url` (a device's push hold). */
  async registerPush(token: string, url: string): Promise<void> {
    await fetch(`${this.gateway.url.replace(/\/$/, '')}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, deviceUrl: url }),
    });
  }

  /** A device's processes through the cuttable proxy; `logSuffix` names a second device's log files (`app2.log`). */
  makeDevice(dirName: string, queues: SimQueue[], token: string, logSuffix: string): Device {
    const viaProxy = `ws://127.0.0.1:${this.proxy.port}/`;
    return new Device({
      sharedDir: join(this.dir, dirName),
      relayUrl: viaProxy,
      relayHttpUrl: `http://127.0.0.1:${this.proxy.port}`,
      // The sender credential too: the app's outbox (`app-send`) sends on its own queues.
      queues: queues.map(({ senderCred, e2e: _e, ...q }) => ({ ...q, senderKey: senderCred })),
      token,
      procConfig: {
        mode: this.world.mode === 'low-power' ? 'lowPower' : 'instant',
        lockBackend: this.world.lockBackend,
        nseBudgetMs: this.timings.nseBudgetMs,
        nseGraceMs: this.timings.nseGraceMs,
        ...(this.procs.config ?? {}),
        logLevel: 'debug',
      },
      procOpts: {
        stderr: 'pipe',
        env: { NSEKIT_FP_REPORT: 'all', ...this.procs.env },
        onLog: (line) => this.onProcLog((/ nse /.test(line.slice(0, 40)) ? 'nse' : / app /.test(line.slice(0, 40)) ? 'app' : 'proc') + logSuffix, line),
      },
      log: fileLog(join(this.dir, `device${logSuffix}.log`), 'device'),
      ...(this.procs.entries ? { entries: this.procs.entries } : {}),
    });
  }

  /** Device `d`'s side of the world as an engine drives it (1: this world itself). */
  view(d: number): SimWorld {
    return d === 1 ? this : deviceView(this, this.others[d - 2]!);
  }

  private async startRelay(): Promise<void> {
    this.relay = await startRelay({
      dbPath: join(this.dir, 'relay.db'),
      port: this.relayPort,
      pushGatewayUrl: this.gateway.url,
      notify: { coalesceMs: 10 },
      log: this.relayLog,
    });
    this.relayPort = this.relay.port;
  }

  async restartRelay(): Promise<void> {
    await this.relay.close();
    await this.startRelay();
    for (const s of this.senders) if (!s.connected) await s.connect().catch(() => {});
  }

  /**
   * Two devices: one GSEND to group `q` — a part sealed for each device's queue `q` (each has its
   * own e2e key), all stored in one relay transaction. Returns each device's msgId, device 1 first.
   */
  async sendGroup(from: number, q: number, text: string, notification: boolean, poison = false): Promise<string[]> {
    const s = this.senders[from]!;
    if (!s.connected) await s.connect();
    const parts = [this.queues[q]!, ...this.others.map((o) => o.queues[q]!)].map((queue) => ({ queueId: queue.queueId, body: sealForQueue(poison ? nodeRng.randomBytes(32) : queue.e2e, nodeRng, queue.queueId, { type: 'text', text }) }));
    return (await s.groupSend(this.groups[q]!, parts, { notification })).msgIds;
  }

  /** Seal `text` end to end for queue `q` and SEND it from sender `from`. */
  /** `poison`: sealed under a key the device does not have, so it never opens there (quarantined). */
  async send(from: number, q: number, text: string, notification: boolean, poison = false): Promise<void> {
    const queue = this.queues[q]!;
    const s = this.senders[from]!;
    if (!s.connected) await s.connect();
    const body = sealForQueue(poison ? nodeRng.randomBytes(32) : queue.e2e, nodeRng, queue.queueId, { type: 'text', text });
    await s.send(queue.queueId, body, { notification });
  }

  async stop(): Promise<void> {
    const step = async (f: () => unknown) => {
      try {
        await f();
      } catch {
        /* best effort: everything gets its chance to stop */
      }
    };
    await step(() => this.device?.stop());
    await step(() => this.pushHold?.close());
    for (const o of this.others) {
      await step(() => o.device.stop());
      await step(() => o.pushHold.close());
    }
    for (const s of this.senders) await step(() => s.close());
    await step(() => this.proxy?.close());
    await step(() => this.relay?.close());
    await step(() => this.gateway?.close());
  }
}
