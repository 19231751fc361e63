import { toHex } from '../../bytes.js';
import { decodeContent, encodeContent, type MessageContent } from '../../content.js';
import { EnvelopeKind, HEADER_LEN, TAG_LEN, open, seal } from '../../crypto/index.js';
import { isNsekitError, NsekitError } from '../../errors.js';
import type { TimerHandle } from '../../host.js';
import { sealForQueue } from '../../inbound/index.js';
import { isClientId } from '../../protocol/codec.js';
import { DEFAULT_MAX_BODY_BYTES } from '../../protocol/frames.js';
import type { OutboxItem } from '../ports.js';
import { lockHolderOf, withDetails, type SessionRuntime } from '../runtime.js';
import { Backoff } from './backoff.js';

export interface OutboxOptions {
  /** SENDs an item may take before it is a dead letter (default 10). Only SENDs that went out on a connected socket count. */
  maxAttempts?: number;
  /** An item still unsent this long after it was queued is a dead letter (default 23 h: inside the relay's 24 h dedupe window). */
  maxAgeMs?: number;
  /** Retry timer after a drain that left items to retry: first window and cap (default 1 s … 60 s, jittered). */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Sent rows kept for the UI and idempotent re-enqueue (default 100); older ones are pruned. */
  keepSent?: number;
  /** Largest relay body (decoded SEND body) a message may seal to (default the relay's maxBodyBytes, 65 536). */
  maxBodyBytes?: number;
}

/** Relay refusals no resend can change: the item becomes a dead letter at once and its queue goes on. */
const PERMANENT = new Set<string>(['PROTO_TOO_LARGE', 'PROTO_MALFORMED', 'PROTO_AUTH', 'PROTO_NO_QUEUE', 'PROTO_UNKNOWN_COMMAND', 'CONTENT_MALFORMED', 'OUTBOX_ATTEMPTS_EXHAUSTED', 'OUTBOX_EXPIRED']);

/** The relay body `content` seals to (sealForQueue): header + encoded content + tag. */
export function wireBodyBytes(content: MessageContent): number {
  return HEADER_LEN + encodeContent(content).length + TAG_LEN;
}

type Verdict = 'failed' | 'retry' | 'offline';

/**
 * The app's outbox (docs/processes.md "Outbox"). A message is first written to the shared
 * store's outbox table (sealed with the outbox key, keyed by a client-generated id: enqueueing
 * the same id twice is a no-op) — before anything that can time out; that write is retried on
 * LOCK_TIMEOUT while the phase allows, else `send` fails OUTBOX_NOT_QUEUED and nothing is queued.
 * Input the relay would refuse for its size is refused here (OUTBOX_TOO_LARGE). Every error about
 * a send names its clientId.
 *
 * `drain()` — on enqueue when in front, as the last step of every wake sequence, and on its own
 * retry timer — sends items oldest first per queue and marks one `sent` only after the relay's OK.
 * A transient failure (timeout, closed socket, rate limit, a store write that met the lock) leaves
 * the item `sending`, holds that queue's later items (per-queue order) and arms the retry timer
 * (exponential backoff, jitter from the host Rng); other queues go on. A permanent failure (the
 * relay refuses the item itself, the row no longer opens) and the attempt and age caps make the
 * item a dead letter: `failed` in the store with its reason, an `outbox` event `failed`, and its
 * queue goes on. Every (re)send carries the item's clientId, so a resend after a lost OK is stored
 * once by the relay (docs/protocol.md "Idempotent SEND"): exactly one delivery per item.
 */
export class Outbox {
  private draining: Promise<number> | null = null;
  private readonly o: Required<OutboxOptions>;
  private readonly backoff: Backoff;
  private retryTimer: TimerHandle | null = null;
  private closed = false;
  /** How a retry-timer drain runs: the app sets its lifecycle chain, so a drain never overlaps a lock or a suspension. */
  runSerial: <T>(fn: () => Promise<T>) => Promise<T> = (fn) => fn();

  constructor(
    private readonly rt: SessionRuntime,
    opts: OutboxOptions = {},
  ) {
    this.o = {
      maxAttempts: opts.maxAttempts ?? 10,
      maxAgeMs: opts.maxAgeMs ?? 23 * 3_600_000,
      retryBaseMs: opts.retryBaseMs ?? 1_000,
      retryMaxMs: opts.retryMaxMs ?? 60_000,
      keepSent: opts.keepSent ?? 100,
      maxBodyBytes: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    };
    this.backoff = new Backoff(rt.host.rng, this.o.retryBaseMs, this.o.retryMaxMs);
  }

  private binding(clientId: string, queueId: string) {
    return { kind: EnvelopeKind.outboxBody, recordId: clientId, queueId } as const;
  }

  /**
   * Queue `text` on `queueId`; resolves with the clientId once the item is durable in the outbox.
   * `mayRetry` is asked before each retry of the outbox write (the app: no suspension asked for).
   */
  async enqueue(queueId: string, text: string, clientId?: string, opts: { mayRetry?: () => boolean } = {}): Promise<string> {
    const { rt } = this;
    const id = clientId ?? toHex(rt.host.rng.randomBytes(12));
    try {
      // It goes on the wire as SEND's clientId: refuse now rather than jam the outbox later.
      if (!isClientId(id)) throw new NsekitError('PROTO_MALFORMED', 'clientId must be 1..64 characters of [A-Za-z0-9_-]');
      const key = rt.outboxKey;
      if (!key) throw new NsekitError('STORE_LOCKED', 'cannot queue a message while the device is locked');
      const q = rt.queueCfg.get(queueId);
      if (!q?.senderKey) throw new NsekitError('PROTO_NO_QUEUE', `no sender credential for queue ${queueId}`);
      const content: MessageContent = { type: 'text', text };
      // The relay refuses a body over its limit on every resend: refuse it now, before it is queued.
      const bytes = wireBodyBytes(content);
      if (bytes > this.o.maxBodyBytes) {
        throw new NsekitError('OUTBOX_TOO_LARGE', `the message seals to ${bytes} bytes; the relay takes at most ${this.o.maxBodyBytes}`, { bytes, maxBytes: this.o.maxBodyBytes, chars: text.length });
      }
      const body = seal(key, rt.host.rng, this.binding(id, queueId), encodeContent(content));
      const added = await this.add(id, queueId, body, opts.mayRetry ?? (() => true));
      rt.log('info', 'outbox', added ? 'queued' : 'already queued', { clientId: id, queueId });
      rt.emit('outbox', { clientId: id, queueId, state: 'sending' });
      return id;
    } catch (e) {
      throw withDetails(e, { clientId: String(id).slice(0, 80), queueId });
    }
  }

  /** The outbox write, retried on LOCK_TIMEOUT while the phase allows. One that still fails leaves nothing queued. */
  private async add(clientId: string, queueId: string, body: Uint8Array, more: () => boolean): Promise<boolean> {
    const { rt } = this;
    try {
      return await rt.retryOnLockTimeout('outboxAdd', () => rt.store.outboxAdd({ clientId, queueId, body }), more, { clientId });
    } catch (e) {
      // A write that failed after its COMMIT (a lease lost at release) did queue it: then it is queued.
      const there = await rt.store
        .outboxPending()
        .then((items) => items.some((i) => i.clientId === clientId))
        .catch(() => false);
      if (there) return true;
      const cause = isNsekitError(e) ? e.code : 'INTERNAL';
      throw new NsekitError('OUTBOX_NOT_QUEUED', `message ${clientId} was not queued: the outbox write failed (${cause})`, {
        cause,
        ...(cause === 'LOCK_TIMEOUT' ? { holderPid: lockHolderOf(e) ?? null } : {}),
      });
    }
  }

  /**
   * Send every unsent item, oldest first per queue. Concurrent calls share one drain. `stop`
   * (a background window about to expire) is asked before each item: no new SEND starts once it
   * holds. An item whose SEND is in flight then stays `sending` until its OK is marked; if that
   * never happens (forced suspension, kill) it is resent with the same clientId and the relay
   * dedupes it — sent once.
   */
  drain(stop?: () => boolean): Promise<number> {
    if (stop) {
      const prev = this.stopWhen;
      this.stopWhen = prev ? () => prev() || stop() : stop;
    } else if (this.draining && this.stopWhen) {
      // A window's drain (it may have stopped already, or wait for its next SEND until the app is
      // activated again): this caller wants everything sent, so a full drain follows it.
      this.stopWhen = null;
      const d = this.draining;
      return d.then(
        (n) => this.drain().then((m) => n + m),
        () => this.drain(),
      );
    }
    if (!this.draining) this.draining = this.doDrain().finally(() => ((this.draining = null), (this.stopWhen = null)));
    return this.draining;
  }
  private stopWhen: (() => boolean) | null = null;

  /** Stop the retry timer (the process is going away). */
  close(): void {
    this.closed = true;
    this.clearRetry();
  }

  /** The dead letters (`failed` items, with `lastError` their reason), if the store lists them. */
  async failed(): Promise<OutboxItem[]> {
    return this.rt.store.outboxList ? this.rt.store.outboxList('failed') : [];
  }

  private async doDrain(): Promise<number> {
    const { rt } = this;
    this.clearRetry();
    const key = rt.outboxKey;
    if (!key || !rt.store.isOpen) {
      // The next wake (after the unlock / the activation) drains.
      rt.log('info', 'outbox', 'deferred', { reason: key ? 'store_closed' : 'device_locked' });
      return 0;
    }
    // A host whose outboxPending still lists dead letters: they are not sent again.
    const items = (await rt.store.outboxPending()).filter((i) => i.state !== 'failed');
    rt.log('info', 'outbox', `drain start count=${items.length}`);
    rt.emit('outbox', { state: 'drain', count: items.length });
    let sent = 0;
    let retry = false;
    /** Queues whose oldest unsent item waits for a retry: their later items wait too (order per queue). */
    const held = new Set<string>();
    for (const it of items) {
      if (this.stopWhen?.()) {
        rt.log('info', 'outbox', 'drain stopped: the background window ends', { left: items.length - sent });
        break;
      }
      if (held.has(it.queueId)) continue;
      const q = rt.queueCfg.get(it.queueId);
      try {
        this.checkCaps(it);
        if (!q?.senderKey) throw new NsekitError('PROTO_NO_QUEUE', `no sender credential for ${it.queueId}`);
        const content = this.openItem(it, key);
        // Offline: no attempt is spent (only SENDs that go out count against the cap).
        if (!rt.transport.connected) await rt.phase.run('sendNetwork', () => rt.ensureConnected());
        await rt.store.outboxMark(it.clientId, 'sending');
        const wire = sealForQueue(q.e2e, rt.host.rng, it.queueId, content);
        // A trigger site before the SEND's sendNetwork op: held here past a window's expiry, the
        // item is not in flight; the op then waits for the class to reopen (the next activation).
        await rt.host.failpoints.hit('outbox.send', { queueId: it.queueId, clientId: it.clientId });
        // The SEND is one sendNetwork op; its failpoints let a history see it start, succeed or fail (the gates invariant).
        const res = await rt.phase.run('sendNetwork', async () => {
          const fp = { queueId: it.queueId, clientId: it.clientId };
          await rt.host.failpoints.hit('net.send.sent', fp);
          let r: { msgId?: string; duplicate: boolean };
          try {
            r = await rt.transport.sendWithResult(it.queueId, wire, { notification: true }, { clientId: it.clientId });
          } catch (e) {
            await rt.host.failpoints.hit('net.send.fail', { ...fp, code: isNsekitError(e) ? e.code : 'INTERNAL' });
            throw e;
          }
          await rt.host.failpoints.hit('net.send.ok', { ...fp, msgId: r.msgId ?? null, duplicate: r.duplicate });
          return r;
        });
        // duplicate: an earlier attempt reached the relay but its OK was lost; nothing new was stored.
        if (res.duplicate) rt.log('info', 'outbox', 'relay already had it', { clientId: it.clientId, msgId: res.msgId });
        // If this mark still fails, the item is resent later and the relay dedupes it (duplicate: true).
        await rt.retryOnLockTimeout('outboxMark', () => rt.store.outboxMark(it.clientId, 'sent'), () => true, { clientId: it.clientId });
        sent++;
        rt.emit('outbox', { clientId: it.clientId, queueId: it.queueId, state: 'sent', attempts: it.attempts + 1, duplicate: res.duplicate });
      } catch (e) {
        const v = this.verdict(e, key);
        if (v === 'failed' && (await this.deadLetter(it, e))) continue; // its queue goes on with the next item
        // Stays 'sending' (visible to the user); this queue's later items wait behind it.
        held.add(it.queueId);
        retry = true;
        rt.log('warn', 'outbox', 'send failed, will retry', { clientId: it.clientId, error: String(e) });
        rt.emit('outbox', { clientId: it.clientId, queueId: it.queueId, state: 'retry', error: String(e), ...(isNsekitError(e) ? { code: e.code } : {}) });
        if (v === 'offline') break; // no queue can send now
      }
    }
    if (sent > 0 && rt.store.outboxPrune) {
      try {
        const pruned = await rt.store.outboxPrune(this.o.keepSent);
        if (pruned) rt.log('info', 'outbox', 'pruned sent rows', { pruned, kept: this.o.keepSent });
      } catch (e) {
        rt.log('warn', 'outbox', 'prune failed (the next drain prunes)', { error: String(e) });
      }
    }
    if (retry) this.armRetry();
    else this.backoff.reset();
    return sent;
  }

  /** The attempt cap and the age cap (the age only where the store keeps `createdAt`). */
  private checkCaps(it: OutboxItem): void {
    if (it.attempts >= this.o.maxAttempts) {
      throw new NsekitError('OUTBOX_ATTEMPTS_EXHAUSTED', `${it.attempts} SENDs failed (cap ${this.o.maxAttempts})`, { attempts: it.attempts });
    }
    const age = it.createdAt === undefined ? 0 : this.rt.host.clock.now() - it.createdAt;
    if (age >= this.o.maxAgeMs) throw new NsekitError('OUTBOX_EXPIRED', `unsent for ${age} ms (cap ${this.o.maxAgeMs})`, { ageMs: age });
  }

  private openItem(it: OutboxItem, key: Uint8Array): MessageContent {
    const plain = open(key, this.binding(it.clientId, it.queueId), it.body);
    try {
      return decodeContent(plain);
    } catch {
      throw new NsekitError('CONTENT_MALFORMED', `outbox row ${it.clientId} does not hold a message`);
    }
  }

  /** What a failure means for the item: a dead letter, a retry of this queue later, or no sending at all for now. */
  private verdict(e: unknown, key: Uint8Array): Verdict {
    if (isNsekitError(e) && PERMANENT.has(e.code)) return 'failed';
    // No socket (the connect failed, or it dropped during the SEND): no queue can send now.
    if (!this.rt.transport.connected || isNsekitError(e, 'PROTO_CLOSED')) return 'offline';
    if (!isNsekitError(e)) return 'retry';
    // The row did not open: corrupt — unless the device locked meanwhile (the key is wiped in place).
    if (e.code.startsWith('CRYPTO_')) return this.rt.outboxKey === key && key.some((b) => b !== 0) ? 'failed' : 'retry';
    return 'retry';
  }

  /** Mark the item `failed` with its reason and report it; false if even that write failed (it is retried). */
  private async deadLetter(it: OutboxItem, e: unknown): Promise<boolean> {
    const { rt } = this;
    const reason = isNsekitError(e) ? e.code : 'INTERNAL';
    try {
      await rt.retryOnLockTimeout('outboxMark', () => rt.store.outboxMark(it.clientId, 'failed', { error: reason }), () => true, { clientId: it.clientId });
    } catch (me) {
      rt.log('warn', 'outbox', 'could not mark a dead letter (next drain)', { clientId: it.clientId, reason, error: String(me) });
      return false;
    }
    rt.log('warn', 'outbox', 'dead letter: not sent', { clientId: it.clientId, queueId: it.queueId, reason, attempts: it.attempts });
    rt.emit('outbox', { clientId: it.clientId, queueId: it.queueId, state: 'failed', reason, attempts: it.attempts, error: e instanceof Error ? e.message : String(e) });
    return true;
  }

  private armRetry(): void {
    const { rt } = this;
    if (this.closed || this.retryTimer !== null) return;
    const ms = this.backoff.next();
    rt.log('info', 'outbox', 'retry scheduled', { inMs: ms, round: this.backoff.attempts });
    this.retryTimer = rt.host.clock.setTimer(ms, () => {
      this.retryTimer = null;
      // Only in front (the SEND class is blocked in background): otherwise the next wake drains.
      if (this.closed || rt.phase.phase !== 'active') return;
      void this.runSerial(() => (rt.phase.phase === 'active' && !this.closed ? this.drain() : Promise.resolve(0))).catch((e) => rt.errorEvent('outbox retry', e));
    });
  }

  private clearRetry(): void {
    if (this.retryTimer !== null) this.rt.host.clock.clearTimer(this.retryTimer);
    this.retryTimer = null;
  }
}
