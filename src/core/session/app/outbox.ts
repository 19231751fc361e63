import { toHex, utf8Decode, utf8Encode } from '../../bytes.js';
import { EnvelopeKind, open, seal } from '../../crypto/index.js';
import { isNsekitError, NsekitError } from '../../errors.js';
import { sealForQueue } from '../../inbound/index.js';
import { isClientId } from '../../protocol/codec.js';
import type { SessionRuntime } from '../runtime.js';

/**
 * The app's outbox. A message is first written to the shared store's outbox
 * table (sealed with the outbox key, keyed by a client-generated id: enqueueing
 * the same id twice is a no-op), shown as "sending", and sent by `drain()` —
 * on enqueue when online, and as the last step of every wake sequence. An item
 * is marked `sent` only after the relay's OK, so a crash or a network failure
 * leaves it `sending` and the next drain resends it. Every (re)send carries the
 * item's clientId, so a resend after a lost OK is stored once by the relay
 * (docs/protocol.md "Idempotent SEND"): exactly one delivery per item.
 */
export class Outbox {
  private draining: Promise<number> | null = null;

  constructor(private readonly rt: SessionRuntime) {}

  private binding(clientId: string, queueId: string) {
    return { kind: EnvelopeKind.outboxBody, recordId: clientId, queueId } as const;
  }

  async enqueue(queueId: string, text: string, clientId?: string): Promise<string> {
    const { rt } = this;
    const key = rt.outboxKey;
    if (!key) throw new NsekitError('STORE_LOCKED', 'cannot queue a message while the device is locked');
    const q = rt.queueCfg.get(queueId);
    if (!q?.senderKey) throw new NsekitError('PROTO_NO_QUEUE', `no sender credential for queue ${queueId}`, { queueId });
    const id = clientId ?? toHex(rt.host.rng.randomBytes(12));
    // It goes on the wire as SEND's clientId: refuse now rather than jam the outbox later.
    if (!isClientId(id)) throw new NsekitError('PROTO_MALFORMED', 'clientId must be 1..64 characters of [A-Za-z0-9_-]', { clientId: String(id).slice(0, 80) });
    const body = seal(key, rt.host.rng, this.binding(id, queueId), utf8Encode(JSON.stringify({ type: 'text', text })));
    const added = await rt.store.outboxAdd({ clientId: id, queueId, body });
    rt.log('info', 'outbox', added ? 'queued' : 'already queued', { clientId: id, queueId });
    rt.emit('outbox', { clientId: id, queueId, state: 'sending' });
    return id;
  }

  /** Send every unsent item, oldest first. Concurrent calls share one drain. */
  drain(): Promise<number> {
    if (!this.draining) this.draining = this.doDrain().finally(() => (this.draining = null));
    return this.draining;
  }

  private async doDrain(): Promise<number> {
    const { rt } = this;
    const key = rt.outboxKey;
    if (!key || !rt.store.isOpen) {
      rt.log('info', 'outbox', 'deferred', { reason: key ? 'store_closed' : 'device_locked' });
      return 0;
    }
    const items = await rt.store.outboxPending();
    rt.log('info', 'outbox', `drain start count=${items.length}`);
    rt.emit('outbox', { state: 'drain', count: items.length });
    let sent = 0;
    for (const it of items) {
      const q = rt.queueCfg.get(it.queueId);
      try {
        if (!q?.senderKey) throw new NsekitError('PROTO_NO_QUEUE', `no sender credential for ${it.queueId}`);
        await rt.store.outboxMark(it.clientId, 'sending');
        const content = JSON.parse(utf8Decode(open(key, this.binding(it.clientId, it.queueId), it.body)));
        const wire = sealForQueue(q.e2e, rt.host.rng, it.queueId, content);
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
        await rt.store.outboxMark(it.clientId, 'sent');
        sent++;
        rt.emit('outbox', { clientId: it.clientId, queueId: it.queueId, state: 'sent', attempts: it.attempts + 1, duplicate: res.duplicate });
      } catch (e) {
        // Stays 'sending' (visible to the user); retried by the next drain.
        rt.log('warn', 'outbox', 'send failed, will retry', { clientId: it.clientId, error: String(e) });
        rt.emit('outbox', { clientId: it.clientId, queueId: it.queueId, state: 'retry', error: String(e) });
        break; // keep order: do not send later items before this one
      }
    }
    return sent;
  }
}
