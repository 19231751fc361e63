/**
 * Per-queue GET→ACK serialization. The relay's GET peeks (a second GET before
 * the ACK returns the same message), so each queue has one slot held from the
 * GET until ack()/release()/error/empty/hold-timeout. Waiters are served FIFO
 * by direct hand-off (no barging); queues are independent. GET and SUB on one
 * queue are mutually exclusive within this process.
 *
 * With a gate, one receive is ONE `receiveNetwork` operation from the GET until
 * the slot is given up (ACK, release, empty, error, hold timeout): the ACK runs
 * inside it, not as a second gate op. So background()/suspend() let a receive
 * already in flight finish with its ACK (the drain waits for it), and only a new
 * GET waits. A second gate op for the ACK would wait at the closed class and the
 * process would suspend holding the slot and an un-ACKed message.
 */
import { NsekitError } from '../errors.js';
import type { Gate, Host, MessageFlags, OpClass, RelayMessage, TimerHandle, Transport } from '../host.js';

export interface GetResult {
  msg: RelayMessage;
  flags: MessageFlags;
  /** ACK at the relay, then free the slot. QUEUE_SLOT_EXPIRED if the slot was already let go. */
  ack(): Promise<void>;
  /** Give up the slot without ACK (e.g. the write failed): the next GET sees the same message. */
  release(): void;
}

export interface QueueCoordinatorOptions {
  /** Longest wait for the queue's slot (default 10000 ms). */
  waitTimeoutMs?: number;
  /** Slot auto-released if neither ack nor release comes (default 30000 ms). */
  holdTimeoutMs?: number;
  /** Phase gate: each GET..ACK is one operation of `receiveClass`, each SUB one of receiveNetwork. */
  gate?: Gate;
  /**
   * The class a GET..ACK receive runs in (default receiveNetwork). The NSE's receives are all
   * triggered by a push: notificationNetwork (docs/phase-machine.md "Operation classes").
   */
  receiveClass?: OpClass;
}

type Waiter = { grant: (slot: Slot) => void; timer: TimerHandle | null };
/** One holding of a queue's slot. `state` moves only forward. */
export type Slot = {
  id: number;
  state: 'held' | 'acking' | 'done' | 'expired';
  holdTimer: TimerHandle | null;
  /** Ends the slot's receiveNetwork op (once the GET call itself has settled too). */
  end: (() => void) | null;
  /** Settles when the receive op has left the gate (its count dropped). */
  opDone: Promise<unknown> | null;
  /** Its GET is on the wire: a slot given up now is handed on only once that GET returned. */
  onWire?: boolean;
};
/** One queue's slot, its FIFO of waiters and its SUB flag. */
export type QueueState = { slot: Slot | null; waiters: Waiter[]; subscribed: boolean };

export class QueueCoordinator {
  private readonly queues = new Map<string, QueueState>();
  private readonly waitTimeoutMs: number;
  private readonly holdTimeoutMs: number;
  private readonly gate: Gate | undefined;
  private readonly receiveClass: OpClass;
  private seq = 0;

  constructor(
    private readonly host: Pick<Host, 'clock' | 'log' | 'failpoints'>,
    private readonly transport: Transport,
    opts: QueueCoordinatorOptions = {},
  ) {
    this.waitTimeoutMs = opts.waitTimeoutMs ?? 10_000;
    this.holdTimeoutMs = opts.holdTimeoutMs ?? 30_000;
    this.gate = opts.gate;
    this.receiveClass = opts.receiveClass ?? 'receiveNetwork';
  }

  /** GET the first un-ACKed message of `queueId` and hold the slot; null = empty (slot already released). */
  /**
   * `abort`, checked right before the GET goes out (also after a wait for the slot or a pause
   * at a failpoint): true = the caller no longer wants it (e.g. the app left the foreground) —
   * the slot is let go and null returned, as for an empty queue.
   */
  async getMessage(queueId: string, opts: { timeoutMs?: number; abort?: () => boolean } = {}): Promise<GetResult | null> {
    const q = this.state(queueId);
    if (q.subscribed) throw new NsekitError('QUEUE_SUBSCRIBED', `GET on subscribed queue ${queueId}`, { queueId });
    const slot = await this.acquire(queueId, q, opts.timeoutMs ?? this.waitTimeoutMs);
    let msg: RelayMessage | null;
    try {
      await this.host.failpoints.hit('queue.slot.acquired', { queueId, slot: slot.id });
      msg = await this.receive(slot, async () => {
        // The slot expired while this GET waited for its class: GETting now could hand out
        // a message the next holder already has.
        if (slot.state !== 'held') throw this.expired(queueId, slot);
        if (opts.abort?.()) return null;
        // `slot` pairs the GET's sent/ok/fail in a history: one process may have several GETs open.
        await this.host.failpoints.hit('net.get.sent', { queueId, slot: slot.id });
        // Held at the failpoint (a frozen process) past a suspension that gave the slot up: the
        // GET must not go out, another receive may be fetching the same message by now. Closed in
        // a history as a failed GET: it returned nothing.
        if (slot.state !== 'held') {
          await this.host.failpoints.hit('net.get.fail', { queueId, code: 'QUEUE_SLOT_EXPIRED', slot: slot.id });
          throw this.expired(queueId, slot);
        }
        let m: RelayMessage | null;
        // Given up while on the wire (suspension, hold timeout): the slot is handed on only once
        // this GET has returned, or the relay would serve the same message to two GETs at once.
        const settled = () => {
          slot.onWire = false;
          if ((slot.state as Slot['state']) === 'expired') this.handOn(queueId, q, slot, 'expired');
        };
        slot.onWire = true;
        try {
          m = await this.transport.get(queueId);
        } catch (e) {
          // Closes the GET in a history: it returned nothing (the connection dropped, …).
          await this.host.failpoints.hit('net.get.fail', { queueId, code: codeOf(e), slot: slot.id });
          settled();
          throw e;
        }
        await this.host.failpoints.hit('net.get.ok', { queueId, msgId: m?.msgId ?? null, slot: slot.id });
        settled();
        return m;
      });
    } catch (e) {
      this.free(queueId, q, slot, 'done');
      throw e;
    }
    if (!msg) {
      this.free(queueId, q, slot, 'done');
      return null;
    }
    if (slot.state === 'expired') {
      // The GET outlived the hold timeout and the next caller may already hold this very
      // message: handing it out too would break GET isolation. It stays at the relay.
      this.host.log.log('warn', 'queue', 'GET returned after the slot expired', { queueId, msgId: msg.msgId });
      throw new NsekitError('QUEUE_SLOT_EXPIRED', `GET on ${queueId} outlived the hold timeout`, {
        queueId,
        msgId: msg.msgId,
      });
    }
    const m = msg;
    return {
      msg: m,
      flags: { ...m.flags },
      ack: () => this.ack(queueId, q, slot, m.msgId),
      release: () => {
        if (slot.state === 'held') this.free(queueId, q, slot, 'done');
      },
    };
  }

  /** SUB `queueId`; refuses while a GET slot is held or awaited. */
  async subscribe(queueId: string, onMessage: (m: RelayMessage) => void): Promise<void> {
    const q = this.state(queueId);
    if (q.slot || q.waiters.length) {
      throw new NsekitError('QUEUE_GET_IN_PROGRESS', `SUB on ${queueId} while a GET is in progress`, { queueId });
    }
    // Mark first so a GET arriving while SUB is in flight is refused, not interleaved.
    q.subscribed = true;
    try {
      await this.net(() => this.transport.subscribe(queueId, onMessage));
    } catch (e) {
      q.subscribed = false;
      throw e;
    }
    this.host.log.log('debug', 'queue', 'subscribed', { queueId });
  }

  async unsubscribe(queueId: string): Promise<void> {
    const q = this.state(queueId);
    try {
      await this.transport.unsubscribe(queueId);
    } finally {
      // Whether or not the relay heard it, this process no longer consumes the SUB stream.
      q.subscribed = false;
      this.host.log.log('debug', 'queue', 'unsubscribed', { queueId });
    }
  }

  isSubscribed(queueId: string): boolean {
    return this.queues.get(queueId)?.subscribed ?? false;
  }

  /** True while a GET slot on `queueId` is held or awaited. */
  busy(queueId: string): boolean {
    const q = this.queues.get(queueId);
    return !!q && (q.slot !== null || q.waiters.length > 0);
  }

  /**
   * A suspension was forced past receives still in flight: give their slots up
   * without ACK. A GET that returns later is refused (QUEUE_SLOT_EXPIRED) instead
   * of processing a message the other process may have fetched meanwhile; the
   * message stays at the relay for the next GET. ACKs already on the wire finish.
   */
  abandonHeld(): number {
    let n = 0;
    for (const [queueId, q] of this.queues) {
      const slot = q.slot;
      if (!slot || slot.state !== 'held') continue;
      this.host.log.log('warn', 'queue', 'slot given up without ACK (suspension or yield)', { queueId, slot: slot.id });
      this.free(queueId, q, slot, 'expired');
      n++;
    }
    return n;
  }

  private state(queueId: string): QueueState {
    let q = this.queues.get(queueId);
    if (!q) this.queues.set(queueId, (q = { slot: null, waiters: [], subscribed: false }));
    return q;
  }

  private net<T>(fn: () => Promise<T>): Promise<T> {
    return this.gate ? this.gate.run('receiveNetwork', fn) : fn();
  }

  /**
   * Run the GET as the start of the slot's receiveNetwork op and resolve with its
   * result; the op itself stays open until free() ends the slot (the ACK, if any,
   * runs inside it). Never nests a gate.run: see docs/phase-machine.md "Nesting".
   */
  private receive(slot: Slot, get: () => Promise<RelayMessage | null>): Promise<RelayMessage | null> {
    const gate = this.gate;
    if (!gate) return get();
    return new Promise<RelayMessage | null>((resolve, reject) => {
      const ended = new Promise<void>((r) => (slot.end = r));
      if (slot.state === 'done' || slot.state === 'expired') slot.end?.();
      slot.opDone = gate
        .run(this.receiveClass, async () => {
          try {
            resolve(await get());
          } catch (e) {
            reject(e);
            return;
          }
          await ended;
        })
        // Waiting for the class failed (GATE_TIMEOUT, GATE_STOPPED): the GET never ran.
        .catch(reject);
    });
  }

  private expired(queueId: string, slot: Slot): NsekitError {
    return new NsekitError('QUEUE_SLOT_EXPIRED', `slot for ${queueId} expired before its GET`, { queueId, slot: slot.id });
  }

  /**
   * The queue's slot for one GET..ACK: at once when free and nobody waits, else
   * FIFO behind the holder (QUEUE_TIMEOUT after `timeoutMs`). Protected so a
   * host can substitute its own acquisition policy in a subclass.
   */
  protected acquire(queueId: string, q: QueueState, timeoutMs: number): Promise<Slot> {
    if (!q.slot && q.waiters.length === 0) return Promise.resolve(this.take(queueId, q));
    return new Promise<Slot>((resolve, reject) => {
      const w: Waiter = { grant: resolve, timer: null };
      w.timer = this.host.clock.setTimer(timeoutMs, () => {
        const i = q.waiters.indexOf(w);
        if (i < 0) return;
        q.waiters.splice(i, 1);
        this.host.log.log('warn', 'queue', 'slot wait timed out', { queueId, timeoutMs });
        reject(new NsekitError('QUEUE_TIMEOUT', `waited ${timeoutMs} ms for queue ${queueId}`, { queueId, timeoutMs }));
      });
      q.waiters.push(w);
    });
  }

  private take(queueId: string, q: QueueState): Slot {
    const slot: Slot = { id: ++this.seq, state: 'held', holdTimer: null, end: null, opDone: null };
    slot.holdTimer = this.host.clock.setTimer(this.holdTimeoutMs, () => {
      if (slot.state !== 'held') return;
      this.host.log.log('warn', 'queue', 'slot hold timeout: released without ACK', { queueId, slot: slot.id });
      this.free(queueId, q, slot, 'expired');
    });
    q.slot = slot;
    return slot;
  }

  private free(queueId: string, q: QueueState, slot: Slot, to: 'done' | 'expired'): void {
    if (slot.state === 'done' || slot.state === 'expired') return;
    slot.state = to;
    if (slot.holdTimer !== null) this.host.clock.clearTimer(slot.holdTimer);
    slot.holdTimer = null;
    slot.end?.(); // the receive op ends with the slot
    // From here its holder will never ACK or process the message (a late GET reply is refused),
    // even if the slot itself is handed on only when a GET on the wire returns.
    if (to === 'expired') void this.host.failpoints.hit('queue.slot.expired', { queueId, slot: slot.id });
    if (slot.onWire) return; // handed on when its GET returns
    this.handOn(queueId, q, slot, to);
  }

  /** The queue's slot goes to the next waiter (FIFO), if `slot` still holds it. */
  private handOn(queueId: string, q: QueueState, slot: Slot, to: 'done' | 'expired'): void {
    if (q.slot !== slot) return;
    q.slot = null;
    void this.host.failpoints.hit('queue.slot.released', { queueId, slot: slot.id, how: to });
    const next = q.waiters.shift();
    if (next) {
      if (next.timer !== null) this.host.clock.clearTimer(next.timer);
      next.grant(this.take(queueId, q));
    }
  }

  private async ack(queueId: string, q: QueueState, slot: Slot, msgId: string): Promise<void> {
    if (slot.state !== 'held') {
      // After expiry another GET may hold this message; ACKing it here could lose it.
      throw new NsekitError('QUEUE_SLOT_EXPIRED', `slot for ${queueId} no longer held (${slot.state})`, {
        queueId,
        msgId,
      });
    }
    // No gate.run here: the ACK belongs to the receive op opened by the GET, which is still
    // counted in receiveNetwork, so a background()/suspend() since the GET does not hold it.
    await this.host.failpoints.hit('net.ack.sent', { queueId, msgId });
    if (slot.state !== 'held') {
      // Given up while this ACK waited to go out (a suspension forced past it, the hold timeout):
      // the other process may hold the message by now. Not sent; it stays at the relay.
      throw new NsekitError('QUEUE_SLOT_EXPIRED', `slot for ${queueId} no longer held (${slot.state})`, { queueId, msgId });
    }
    // On the wire from here: stop the hold timer (releasing mid-ACK would let another GET see the
    // message being deleted); a forced suspension lets this ACK finish.
    slot.state = 'acking';
    if (slot.holdTimer !== null) this.host.clock.clearTimer(slot.holdTimer);
    slot.holdTimer = null;
    try {
      try {
        await this.transport.ack(queueId, msgId);
      } catch (e) {
        await this.host.failpoints.hit('net.ack.fail', { queueId, msgId, code: codeOf(e) });
        throw e;
      }
      await this.host.failpoints.hit('net.ack.ok', { queueId, msgId });
    } finally {
      slot.state = 'held';
      this.free(queueId, q, slot, 'done');
    }
    // As with any gate op, the class count drops before the caller sees the result.
    if (slot.opDone) await slot.opDone;
  }
}

const codeOf = (e: unknown): string => (e instanceof NsekitError ? e.code : 'INTERNAL');
