import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { toHex } from '../core/bytes.js';
import type { Log } from '../core/host.js';
import type { MessageContent } from '../core/content.js';
import { sealForQueue } from '../core/inbound/index.js';
import { generateStatusKeypair } from '../core/protocol/index.js';
import { Device } from '../device/device.js';
import type { ProcConfig, QueueConfig } from '../device/ipc.js';
import type { ManagedProcOpts } from '../device/proc.js';
import { nodeRng, silentLog } from '../node/host.js';
import { WsTransport } from '../node/transport/ws-transport.js';
import { startPushGateway, startRelay, type RunningPushGateway, type RunningRelay } from '../relay/index.js';
import type { NotifyOptions } from '../relay/notifications.js';

export interface WorldOptions {
  dir?: string;
  queues?: number;
  mode?: ProcConfig['mode'];
  procConfig?: Partial<ProcConfig>;
  procOpts?: ManagedProcOpts;
  notify?: Partial<NotifyOptions>;
  /** Log for the relay, gateway, device (default silent). */
  log?: Log;
  /** Give the app sender credentials for its own queues (outbox tests). */
  appCanSend?: boolean;
  /** Per-queue process restriction (index → role), e.g. the bench's NSE-only queue. */
  queueOnly?: Record<number, 'app' | 'nse'>;
  /** Device options passed through. */
  nseWhenForeground?: boolean;
}

/**
 * A relay + push gateway + sender client + one simulated device, all on
 * loopback: what `nsekit demo`, the e2e tests and the bench share. Queues are
 * created by the sender side (NEW), the device registers its push token, and
 * each queue gets a notifier subscription (NSUB) for that token.
 */
export class World {
  relay!: RunningRelay;
  gateway!: RunningPushGateway;
  sender!: WsTransport;
  device!: Device;
  readonly dir: string;
  readonly queues: (QueueConfig & { senderCred: string; e2e: Uint8Array })[] = [];
  private relayPort = 0;
  private sentSeq = 0;

  private readonly ownDir: boolean;

  constructor(readonly opts: WorldOptions = {}) {
    this.ownDir = !opts.dir;
    this.dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'nsekit-world-'));
  }

  get log(): Log {
    return this.opts.log ?? silentLog;
  }

  async start(): Promise<this> {
    this.gateway = await startPushGateway({ log: this.log });
    await this.startRelay();
    this.sender = new WsTransport({ url: this.relay.url, log: this.log });
    await this.sender.connect();
    const rng = nodeRng;
    for (let i = 0; i < (this.opts.queues ?? 1); i++) {
      const kp = generateStatusKeypair(rng);
      const ids = await this.sender.createQueue({ recipientKey: kp.publicKey });
      const e2e = new Uint8Array(randomBytes(32));
      this.queues.push({
        queueId: ids.queueId,
        recipientKey: ids.recipientCred,
        senderCred: ids.senderCred,
        e2eKey: toHex(e2e),
        e2e,
        statusKey: toHex(kp.secretKey),
        ...(this.opts.appCanSend ? { senderKey: ids.senderCred } : {}),
        ...(this.opts.queueOnly?.[i] ? { only: this.opts.queueOnly[i] } : {}),
      });
    }
    this.device = new Device({
      sharedDir: join(this.dir, 'device'),
      relayUrl: this.relay.url,
      relayHttpUrl: this.relay.httpUrl,
      gatewayUrl: this.gateway.url,
      queues: this.queues.map(({ senderCred: _s, e2e: _e, ...q }) => q),
      procConfig: { mode: this.opts.mode ?? 'instant', ...this.opts.procConfig },
      ...(this.opts.procOpts ? { procOpts: this.opts.procOpts } : {}),
      log: this.log,
      ...(this.opts.nseWhenForeground ? { nseWhenForeground: true } : {}),
    });
    await this.device.start();
    // Notifier subscriptions: the recipient (here on the device's behalf) NSUBs each queue with the token.
    const cfgQueues = (this.device as unknown as { opts: { queues: QueueConfig[] } }).opts.queues;
    for (const q of this.queues) {
      const nid = await this.sender.nsub(q.queueId, this.device.token);
      const key = toHex(nid.notifierKey);
      for (const target of [q, cfgQueues.find((c) => c.queueId === q.queueId)!]) {
        target.notifierId = nid.notifierId;
        target.notifierKey = key;
      }
    }
    return this;
  }

  private async startRelay(notify: Partial<NotifyOptions> = {}): Promise<void> {
    this.relay = await startRelay({
      dbPath: join(this.dir, 'relay.db'),
      port: this.relayPort,
      pushGatewayUrl: this.gateway.url,
      notify: { coalesceMs: 30, ...this.opts.notify, ...notify },
      log: this.log,
    });
    this.relayPort = this.relay.port;
  }

  /** Stop the relay and start it again on the same port and database (optionally new notify options). */
  async restartRelay(notify: Partial<NotifyOptions> = {}): Promise<void> {
    await this.relay.close();
    await this.startRelay(notify);
    if (!this.sender.connected) await this.sender.connect();
  }

  /** Send a text (sealed end to end) from the sender client; returns a label for reports. */
  async send(q: number, text: string, opts: { notification?: boolean; type?: MessageContent['type'] } = {}): Promise<string> {
    const queue = this.queues[q]!;
    const label = `m${++this.sentSeq}`;
    const body = sealForQueue(queue.e2e, nodeRng, queue.queueId, { type: opts.type ?? 'text', text });
    if (!this.sender.connected) await this.sender.connect();
    await this.sender.send(queue.queueId, body, { notification: opts.notification ?? true });
    return label;
  }

  async stop(): Promise<void> {
    const step = async (f: () => Promise<unknown> | unknown) => {
      try {
        await f();
      } catch {
        /* best effort: everything gets a chance to stop */
      }
    };
    await step(() => this.device?.stop());
    await step(() => this.sender?.close());
    await step(() => this.relay?.close());
    await step(() => this.gateway?.close());
    // A temp dir we made is ours to remove; a dir the caller named is left for inspection.
    if (this.ownDir && !process.env.NSEKIT_KEEP) await step(() => rmSync(this.dir, { recursive: true, force: true }));
  }
}
