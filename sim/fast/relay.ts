/**
 * The relay of the fast mode (SMP-like, docs/protocol.md): GET peeks, ACK deletes,
 * SUB delivers the first un-ACKed message and the next only after its ACK, a
 * new subscriber ends the previous one. Messages and pending notifications
 * survive a restart; subscriptions do not. Every delete is recorded as a
 * relay `ack` ok (what the real orchestrator's relay tap records).
 * `SimTransport` is one process's connection: each command and each reply
 * crosses the network after a seeded delay, and fails while partitioned.
 */
import { NsekitError } from '../../src/core/errors.js';
import type { MessageFlags, RelayMessage, SendOptions } from '../../src/core/host.js';
import type { SessionTransport } from '../../src/core/session/index.js';
import type { FastRecorder } from './recorder.js';
import type { SimPushTokens } from './push-tokens.js';
import type { ProcCtx } from './proc-ctx.js';
import type { Scheduler } from './scheduler.js';

/** How the relay reaches the device owning a queue (two devices: each has its own token, notifier keys, push path). */
export interface QueueRoute {
  device: number;
  onNotify: (queueId: string, msgId: string) => void;
  tokens: SimPushTokens;
  notifierOf: (queueId: string) => { notifierId: string; notifierKey: Uint8Array };
}

interface Sub {
  owner: string;
  onMessage: (m: RelayMessage) => void;
  inFlight: string | null;
  /** The relay ended this subscription (another subscriber took the queue). */
  onEnd: () => void;
}

export class SimRelay {
  readonly queues = new Map<string, RelayMessage[]>();
  readonly deleted: string[] = [];
  /** msgId → the queue it was deleted from (a device's snapshot lists its own queues' deletes). */
  readonly deletedFrom = new Map<string, string>();
  partitioned = false;
  /** Live process connections (a partition or a restart drops them all). */
  readonly connections = new Set<SimTransport>();
  private subs = new Map<string, Sub>();
  private seq = 0;
  /** queueId:clientId → msgId: a resend with the same clientId stores nothing new (docs/protocol.md "Idempotent SEND"). */
  private readonly sentIds = new Map<string, string>();
  /** Push-token registrations (NSUB/NDEL); set by the world. */
  tokens: SimPushTokens | null = null;
  /** The notifier id/key NSUB answers for a queue; set by the world. */
  notifierOf: (queueId: string) => { notifierId: string; notifierKey: Uint8Array } = () => {
    throw new NsekitError('PROTO_AUTH', 'no notifier');
  };
  /** Called for every message sent with the notification flag. */
  onNotify: (queueId: string, msgId: string) => void = () => {};
  /** Two devices (./devices.ts): each device's queues, with their device's push path and tokens. */
  private readonly routes = new Map<string, QueueRoute>();
  route(queueIds: readonly string[], r: QueueRoute): void {
    for (const q of queueIds) this.routes.set(q, r);
  }
  /** The push-token registrations of the device owning `queueId`. */
  tokensOf(queueId: string): SimPushTokens | null {
    return this.routes.get(queueId)?.tokens ?? this.tokens;
  }
  notifierFor(queueId: string): { notifierId: string; notifierKey: Uint8Array } {
    return (this.routes.get(queueId)?.notifierOf ?? this.notifierOf)(queueId);
  }
  /** The history tag of the device owning `queueId` (none in a one-device run). */
  private tagOf(queueId: string): { device: number } | undefined {
    const r = this.routes.get(queueId);
    return r ? { device: r.device } : undefined;
  }

  /**
   * GSEND (src/relay/groups.ts): one message to every member queue of a group, all stored at once
   * (one synchronous step here: every device gets it or none does), then each queue's subscriber
   * is served and each queue's token pushed — `notify:fanout` in the relay's log.
   */
  private lastTs = 0;
  /** As the relay's (src/relay/db.ts `nextTs`): the clock, but always after the previous message's ts. */
  private nextTs(): number {
    this.lastTs = Math.max(this.sched.now, this.lastTs + 1);
    return this.lastTs;
  }

  groupSend(parts: { queueId: string; body: Uint8Array }[], flags: MessageFlags): RelayMessage[] {
    const ts = this.nextTs();
    const ms = parts.map((p): RelayMessage => ({ msgId: `r${++this.seq}`, queueId: p.queueId, ts, flags: { ...flags }, body: p.body }));
    for (const m of ms) this.q(m.queueId).push(m);
    for (const m of ms) this.deliver(m.queueId);
    if (flags.notification) {
      this.h.info('relay', 'notify:fanout', { queues: ms.map((m) => m.queueId), recipients: ms.length });
      for (const m of ms) this.notifyQueue(m.queueId, m.msgId);
    }
    return ms;
  }
  private notifyQueue(queueId: string, msgId: string): void {
    (this.routes.get(queueId)?.onNotify ?? this.onNotify)(queueId, msgId);
  }

  constructor(
    private readonly sched: Scheduler,
    private readonly h: FastRecorder,
  ) {}

  latency(): number {
    return this.sched.rng.int(3);
  }

  send(queueId: string, body: Uint8Array, flags: MessageFlags, clientId?: string): RelayMessage & { duplicate?: boolean } {
    if (clientId !== undefined) {
      const had = this.sentIds.get(`${queueId}:${clientId}`);
      if (had) return { msgId: had, queueId, ts: this.sched.now, flags: { ...flags }, body, duplicate: true };
    }
    const m: RelayMessage = { msgId: `r${++this.seq}`, queueId, ts: this.nextTs(), flags: { ...flags }, body };
    this.q(queueId).push(m);
    if (clientId !== undefined) this.sentIds.set(`${queueId}:${clientId}`, m.msgId);
    this.deliver(queueId);
    if (flags.notification) this.notifyQueue(queueId, m.msgId);
    return m;
  }
  get(queueId: string): RelayMessage | null {
    return this.q(queueId)[0] ?? null;
  }
  ack(queueId: string, msgId: string): void {
    const q = this.q(queueId);
    const i = q.findIndex((m) => m.msgId === msgId);
    if (i < 0) throw new NsekitError('PROTO_NO_MSG', `no message ${msgId} on ${queueId}`, { queueId, msgId });
    q.splice(i, 1);
    this.deleted.push(msgId);
    this.deletedFrom.set(msgId, queueId);
    this.h.ok('relay', 'ack', { queueId, msgId }, this.tagOf(queueId));
    const s = this.subs.get(queueId);
    if (s && s.inFlight === msgId) {
      s.inFlight = null;
      this.deliver(queueId);
    }
  }
  subscribe(owner: string, queueId: string, onMessage: (m: RelayMessage) => void, onEnd: () => void = () => {}): void {
    const prev = this.subs.get(queueId);
    this.subs.set(queueId, { owner, onMessage, inFlight: null, onEnd }); // ends any previous subscriber
    if (prev && prev.owner !== owner) this.sched.post(prev.owner, prev.onEnd);
    this.deliver(queueId);
  }
  unsubscribe(owner: string, queueId: string): void {
    if (this.subs.get(queueId)?.owner === owner) this.subs.delete(queueId);
  }
  /** Connections drop (partition, restart, a killed process): their subscriptions end. */
  dropSubs(owner?: string): void {
    for (const [q, s] of this.subs) if (owner === undefined || s.owner === owner) this.subs.delete(q);
  }
  /** Every connection drops (partition, relay restart). */
  dropConnections(): void {
    for (const c of [...this.connections]) c.drop();
    this.dropSubs();
  }
  queued(): { queueId: string; msgId: string }[] {
    return [...this.queues].flatMap(([queueId, ms]) => ms.map((m) => ({ queueId, msgId: m.msgId })));
  }

  private q(queueId: string): RelayMessage[] {
    let q = this.queues.get(queueId);
    if (!q) this.queues.set(queueId, (q = []));
    return q;
  }
  private deliver(queueId: string): void {
    const s = this.subs.get(queueId);
    const m = this.q(queueId)[0];
    if (!s || s.inFlight || !m) return;
    s.inFlight = m.msgId;
    this.sched.setTimer(s.owner, this.latency(), () => {
      if (this.subs.get(queueId) === s && !this.partitioned) s.onMessage(m);
    });
  }
}

/**
 * One process's connection to the relay. Requests need a connection
 * (`connect()` first, as the ws transport); a partition, a relay restart or a
 * kill drops it: `onClose` listeners run (the app's realtime then reconnects
 * with its backoff) and requests fail with PROTO_CLOSED until reconnected.
 */
export class SimTransport implements SessionTransport {
  private conn = false;
  private readonly closeFns = new Set<() => void>();
  private readonly endFns = new Set<(queueId: string) => void>();

  constructor(
    private readonly relay: SimRelay,
    private readonly sched: Scheduler,
    private readonly ctx: ProcCtx,
  ) {
    relay.connections.add(this);
  }

  get connected(): boolean {
    return this.conn;
  }

  /** One round trip: request crosses, `fn` runs at the relay, reply crosses; a lost connection fails either leg. */
  private async rt<T>(what: string, fn: () => T): Promise<T> {
    if (!this.conn) throw new NsekitError('PROTO_CLOSED', `${what}: not connected`);
    await this.sched.delay(this.ctx.owner, this.relay.latency());
    if (!this.conn || this.relay.partitioned) throw new NsekitError('PROTO_CLOSED', `${what}: connection lost`);
    const r = fn();
    await this.sched.delay(this.ctx.owner, this.relay.latency());
    if (!this.conn || this.relay.partitioned) throw new NsekitError('PROTO_CLOSED', `${what}: connection lost before the reply`);
    return r;
  }

  async connect(): Promise<void> {
    await this.sched.delay(this.ctx.owner, this.relay.latency());
    if (this.relay.partitioned) throw new NsekitError('PROTO_CLOSED', 'connect: relay unreachable');
    this.conn = true;
  }

  /** The connection dropped (partition, relay restart): subscriptions end, listeners learn it. */
  drop(): void {
    if (!this.conn) return;
    this.conn = false;
    this.relay.dropSubs(this.ctx.owner);
    for (const fn of this.closeFns) this.sched.post(this.ctx.owner, fn);
  }

  async close(): Promise<void> {
    this.conn = false;
    this.relay.dropSubs(this.ctx.owner);
    this.relay.connections.delete(this);
  }

  get(queueId: string): Promise<RelayMessage | null> {
    return this.rt('GET', () => this.relay.get(queueId));
  }
  ack(queueId: string, msgId: string): Promise<void> {
    return this.rt('ACK', () => this.relay.ack(queueId, msgId));
  }
  async subscribe(queueId: string, onMessage: (m: RelayMessage) => void): Promise<void> {
    this.ctx.record('invoke', 'subscribe', { queueId });
    await this.rt('SUB', () =>
      this.relay.subscribe(this.ctx.owner, queueId, onMessage, () => {
        for (const fn of this.endFns) fn(queueId);
      }),
    );
    this.ctx.record('ok', 'subscribe', { queueId });
  }
  async unsubscribe(queueId: string): Promise<void> {
    this.relay.unsubscribe(this.ctx.owner, queueId);
  }
  async send(queueId: string, body: Uint8Array, flags: MessageFlags, opts: SendOptions = {}): Promise<void> {
    await this.sendWithResult(queueId, body, flags, opts);
  }
  async sendWithResult(queueId: string, body: Uint8Array, flags: MessageFlags, opts: SendOptions = {}): Promise<{ msgId?: string; duplicate: boolean }> {
    const ref = this.ctx.pid * 1_000_000 + ++this.sends;
    this.ctx.record('invoke', 'send', { queueId, clientId: opts.clientId }, { ref });
    try {
      const m = await this.rt('SEND', () => this.relay.send(queueId, body, flags, opts.clientId));
      this.ctx.record('ok', 'send', { queueId, clientId: opts.clientId, msgId: m.msgId, duplicate: m.duplicate === true }, { ref });
      return { msgId: m.msgId, duplicate: m.duplicate === true };
    } catch (e) {
      this.ctx.record('fail', 'send', { queueId, clientId: opts.clientId }, { ref, error: (e as NsekitError).code ?? String(e) });
      throw e;
    }
  }
  private sends = 0;
  nsub(queueId: string, deviceToken: string): Promise<{ notifierId: string; notifierKey: Uint8Array }> {
    return this.rt('NSUB', () => {
      this.relay.tokensOf(queueId)?.nsub(queueId, deviceToken);
      this.ctx.record('ok', 'nsub', { queueId });
      return this.relay.notifierFor(queueId);
    });
  }
  ndel(queueId: string): Promise<void> {
    return this.rt('NDEL', () => {
      this.relay.tokensOf(queueId)?.ndel(queueId);
      this.ctx.record('ok', 'ndel', { queueId });
    });
  }
  ping(): Promise<void> {
    return this.rt('PING', () => undefined);
  }
  setQueueCreds(): void {}
  onClose(fn: () => void): () => void {
    this.closeFns.add(fn);
    return () => this.closeFns.delete(fn);
  }
  onEnd(fn: (queueId: string) => void): () => void {
    this.endFns.add(fn);
    return () => this.endFns.delete(fn);
  }
}
