/**
 * The relay of the fast mode (SMP-like, DESIGN §4): GET peeks, ACK deletes,
 * SUB delivers the first un-ACKed message and the next only after its ACK, a
 * new subscriber ends the previous one. Messages and pending notifications
 * survive a restart; subscriptions do not. Every delete is recorded as a
 * relay `ack` ok (what the real orchestrator's relay tap records).
 * `SimTransport` is one process's connection: each command and each reply
 * crosses the network after a seeded delay, and fails while partitioned.
 */
import { NsekitError } from '../../src/core/errors.js';
import type { MessageFlags, RelayMessage, Transport } from '../../src/core/host.js';
import type { FastRecorder } from './recorder.js';
import type { ProcCtx } from './proc-ctx.js';
import type { Scheduler } from './scheduler.js';

interface Sub {
  owner: string;
  onMessage: (m: RelayMessage) => void;
  inFlight: string | null;
}

export class SimRelay {
  readonly queues = new Map<string, RelayMessage[]>();
  readonly deleted: string[] = [];
  partitioned = false;
  private subs = new Map<string, Sub>();
  private seq = 0;
  /** Called for every message sent with the notification flag. */
  onNotify: (queueId: string, msgId: string) => void = () => {};

  constructor(
    private readonly sched: Scheduler,
    private readonly h: FastRecorder,
  ) {}

  latency(): number {
    return this.sched.rng.int(3);
  }

  send(queueId: string, body: Uint8Array, flags: MessageFlags): RelayMessage {
    const m: RelayMessage = { msgId: `r${++this.seq}`, queueId, ts: this.sched.now, flags: { ...flags }, body };
    this.q(queueId).push(m);
    this.deliver(queueId);
    if (flags.notification) this.onNotify(queueId, m.msgId);
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
    this.h.ok('relay', 'ack', { queueId, msgId });
    const s = this.subs.get(queueId);
    if (s && s.inFlight === msgId) {
      s.inFlight = null;
      this.deliver(queueId);
    }
  }
  subscribe(owner: string, queueId: string, onMessage: (m: RelayMessage) => void): void {
    this.subs.set(queueId, { owner, onMessage, inFlight: null }); // ends any previous subscriber
    this.deliver(queueId);
  }
  unsubscribe(owner: string, queueId: string): void {
    if (this.subs.get(queueId)?.owner === owner) this.subs.delete(queueId);
  }
  /** Connections drop (partition, restart, a killed process): their subscriptions end. */
  dropSubs(owner?: string): void {
    for (const [q, s] of this.subs) if (owner === undefined || s.owner === owner) this.subs.delete(q);
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

export class SimTransport implements Transport {
  constructor(
    private readonly relay: SimRelay,
    private readonly sched: Scheduler,
    private readonly ctx: ProcCtx,
  ) {}

  /** One round trip: request crosses, `fn` runs at the relay, reply crosses; a partition fails either leg. */
  private async rt<T>(what: string, fn: () => T): Promise<T> {
    await this.sched.delay(this.ctx.owner, this.relay.latency());
    if (this.relay.partitioned) throw new NsekitError('PROTO_CLOSED', `${what}: connection lost`);
    const r = fn();
    await this.sched.delay(this.ctx.owner, this.relay.latency());
    if (this.relay.partitioned) throw new NsekitError('PROTO_CLOSED', `${what}: connection lost before the reply`);
    return r;
  }

  get(queueId: string): Promise<RelayMessage | null> {
    return this.rt('GET', () => this.relay.get(queueId));
  }
  ack(queueId: string, msgId: string): Promise<void> {
    return this.rt('ACK', () => this.relay.ack(queueId, msgId));
  }
  async subscribe(queueId: string, onMessage: (m: RelayMessage) => void): Promise<void> {
    this.ctx.record('invoke', 'subscribe', { queueId });
    await this.rt('SUB', () => this.relay.subscribe(this.ctx.owner, queueId, onMessage));
    this.ctx.record('ok', 'subscribe', { queueId });
  }
  async unsubscribe(queueId: string): Promise<void> {
    this.relay.unsubscribe(this.ctx.owner, queueId);
  }
  send(queueId: string, body: Uint8Array, flags: MessageFlags): Promise<void> {
    return this.rt('SEND', () => void this.relay.send(queueId, body, flags));
  }
}
