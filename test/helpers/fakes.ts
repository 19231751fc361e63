/**
 * In-memory fakes of the host services for unit tests (not used by the simulator). They implement the real
 * semantics that matter (GET peeks, ACK deletes, putMessage dedupes on msgId)
 * and record every externally visible step in a shared `events` list so tests
 * can assert orderings (e.g. "ACK strictly after putMessage resolved").
 */
import type {
  Failpoints,
  Log,
  LogLevel,
  MessageFlags,
  NotificationContent,
  Notifier,
  PendingInbox,
  RelayMessage,
  StoredMessage,
  Store,
  Transport,
} from '../../src/core/host.js';
import { NsekitError } from '../../src/core/errors.js';

export { SeededRng } from '../../sim/fast/prng.js';

/** Shared, ordered record of what happened ("relay.get q1 m1", "store.put m1", …). */
export type Events = string[];

/** A hook run before a fake performs an action; throw to inject a failure, await to hold it. */
export type Hook = (arg: string) => void | Promise<void>;

type Sub = { onMessage: (m: RelayMessage) => void; inFlight: string | null };

/**
 * Relay queues with SMP semantics: GET returns the first un-ACKed message
 * without deleting it, ACK(msgId) deletes it, SUB delivers the first un-ACKed
 * message and the next only after ACK.
 */
export class FakeRelay {
  readonly queues = new Map<string, RelayMessage[]>();
  readonly acked: string[] = [];
  private subs = new Map<string, Sub>();
  private seq = 0;
  constructor(readonly events: Events = []) {}

  send(queueId: string, body: Uint8Array, flags: MessageFlags = { notification: true }): RelayMessage {
    const m: RelayMessage = { msgId: `m${++this.seq}`, queueId, ts: 1_000 + this.seq, flags: { ...flags }, body };
    this.q(queueId).push(m);
    this.events.push(`relay.send ${queueId} ${m.msgId}`);
    this.deliver(queueId);
    return m;
  }
  /** Messages not yet ACKed, oldest first. */
  pending(queueId: string): RelayMessage[] {
    return [...this.q(queueId)];
  }
  get(queueId: string): RelayMessage | null {
    const m = this.q(queueId)[0] ?? null;
    this.events.push(`relay.get ${queueId} ${m ? m.msgId : 'empty'}`);
    return m;
  }
  ack(queueId: string, msgId: string): void {
    const q = this.q(queueId);
    const i = q.findIndex((m) => m.msgId === msgId);
    if (i < 0) throw new NsekitError('PROTO_NO_MSG', `no message ${msgId} on ${queueId}`);
    q.splice(i, 1);
    this.acked.push(msgId);
    this.events.push(`relay.ack ${queueId} ${msgId}`);
    const s = this.subs.get(queueId);
    if (s && s.inFlight === msgId) {
      s.inFlight = null;
      this.deliver(queueId);
    }
  }
  subscribe(queueId: string, onMessage: (m: RelayMessage) => void): void {
    this.subs.set(queueId, { onMessage, inFlight: null });
    this.events.push(`relay.sub ${queueId}`);
    this.deliver(queueId);
  }
  unsubscribe(queueId: string): void {
    this.subs.delete(queueId);
    this.events.push(`relay.unsub ${queueId}`);
  }
  /** A transport bound to this relay, with optional hooks before each command. */
  transport(hooks: { beforeGet?: Hook; beforeAck?: Hook } = {}): FakeTransport {
    return new FakeTransport(this, hooks);
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
    // Asynchronous like a socket: never re-enter the caller.
    void Promise.resolve().then(() => {
      if (this.subs.get(queueId) === s) s.onMessage(m);
    });
  }
}

/** Transport over a FakeRelay. Hooks receive the queue id (GET) or msgId (ACK). */
export class FakeTransport implements Transport {
  gets = 0;
  acks = 0;
  constructor(
    readonly relay: FakeRelay,
    readonly hooks: { beforeGet?: Hook; beforeAck?: Hook } = {},
  ) {}
  async get(queueId: string): Promise<RelayMessage | null> {
    this.gets++;
    await this.hooks.beforeGet?.(queueId);
    return this.relay.get(queueId);
  }
  async ack(queueId: string, msgId: string): Promise<void> {
    this.acks++;
    await this.hooks.beforeAck?.(msgId);
    this.relay.ack(queueId, msgId);
  }
  async subscribe(queueId: string, onMessage: (m: RelayMessage) => void): Promise<void> {
    this.relay.subscribe(queueId, onMessage);
  }
  async unsubscribe(queueId: string): Promise<void> {
    this.relay.unsubscribe(queueId);
  }
  async send(queueId: string, body: Uint8Array, flags: MessageFlags): Promise<void> {
    this.relay.send(queueId, body, flags);
  }
}

/** Store keyed by msgId; `beforePut` can hold or fail a write. Events: store.put / store.dup / store.notified. */
export class MemoryStore implements Store {
  readonly messages = new Map<string, StoredMessage>();
  readonly notified = new Set<string>();
  beforePut: Hook | undefined;
  constructor(readonly events: Events = []) {}
  async putMessage(m: StoredMessage): Promise<boolean> {
    await this.beforePut?.(m.msgId);
    if (this.messages.has(m.msgId)) {
      this.events.push(`store.dup ${m.msgId}`);
      return false;
    }
    this.messages.set(m.msgId, { ...m, sealed: m.sealed.slice() });
    this.events.push(`store.put ${m.msgId}`);
    return true;
  }
  async hasMessage(msgId: string): Promise<boolean> {
    return this.messages.has(msgId);
  }
  async markNotified(msgId: string): Promise<boolean> {
    if (this.notified.has(msgId)) return false;
    this.notified.add(msgId);
    this.events.push(`store.notified ${msgId}`);
    return true;
  }
}

/** Events: inbox.append / inbox.marked / inbox.already-marked. */
export class MemoryInbox implements PendingInbox {
  readonly records: StoredMessage[] = [];
  readonly notified = new Set<string>();
  beforeAppend: Hook | undefined;
  constructor(readonly events: Events = []) {}
  async append(m: StoredMessage): Promise<void> {
    await this.beforeAppend?.(m.msgId);
    this.records.push({ ...m, sealed: m.sealed.slice() });
    this.events.push(`inbox.append ${m.msgId}`);
  }
  async markNotified(msgId: string): Promise<boolean> {
    const fresh = !this.notified.has(msgId);
    this.notified.add(msgId);
    this.events.push(`inbox.${fresh ? 'marked' : 'already-marked'} ${msgId}`);
    return fresh;
  }
  async isNotified(msgId: string): Promise<boolean> {
    return this.notified.has(msgId);
  }
}

export class RecordingNotifier implements Notifier {
  readonly shown: NotificationContent[] = [];
  constructor(readonly events: Events = []) {}
  async show(c: NotificationContent): Promise<void> {
    this.shown.push({ ...c });
    this.events.push(`notify ${c.msgId}`);
  }
}

export type LogEntry = { level: LogLevel; tag: string; msg: string; fields?: Record<string, unknown> };
/** A Log that keeps entries in memory: `const l = memoryLog(); … l.entries`. */
export function memoryLog(): Log & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    log(level, tag, msg, fields) {
      entries.push(fields ? { level, tag, msg, fields } : { level, tag, msg });
    },
  };
}

/** Failpoints that record their names in order (optionally into the shared events list as "fp <name>"). */
export function recordingFailpoints(events?: Events): Failpoints & { hits: string[] } {
  const hits: string[] = [];
  return {
    hits,
    hit(name) {
      hits.push(name);
      events?.push(`fp ${name}`);
    },
  };
}

/** A promise with its resolve/reject exposed, to hold a hook until the test lets it go. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A Log that drops everything (fast mode: the history is the record). */
export const silentLog: Log = { log() {} };
