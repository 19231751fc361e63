/**
 * The sending side of "read on another device" (docs/notifications.md; the receiving side, which
 * both processes run, is ../read-sync.ts). App only, so the NSE bundle carries none of it.
 */
import { utf8Encode } from '../../bytes.js';
import { EnvelopeKind, seal } from '../../crypto/index.js';
import { isNsekitError } from '../../errors.js';
import type { ReadMarker } from '../read-sync.js';
import { hexBytes, type SessionRuntime } from '../runtime.js';

export function encodeReadMarker(m: ReadMarker): Uint8Array {
  return utf8Encode(JSON.stringify({ type: 'read', conversation: m.conversation, upTo: m.upTo }));
}

export class ReadSender {
  private readonly peers: { queueId: string; e2e: Uint8Array }[];

  constructor(private readonly rt: SessionRuntime) {
    const linked = rt.cfg.linkedDevices ?? [];
    // The host's transport needs each other device's sync queue's sender credential to SEND.
    for (const d of linked) rt.transport.setQueueCreds(d.queueId, { senderCred: d.senderKey });
    this.peers = linked.map((d) => ({ queueId: d.queueId, e2e: hexBytes(d.e2eKey, `e2eKey of linked ${d.queueId}`) }));
  }

  /**
   * This device read `queueId` up to relay ts `upTo`: tell every other device (a SEND with the
   * notification flag to its device-sync queue, so its NSE is pushed). Best effort — a marker that
   * cannot be sent leaves the other device's banners until the user opens the conversation there;
   * no message is lost. Returns how many devices were told.
   */
  async send(queueId: string, upTo: number | null): Promise<number> {
    const { rt } = this;
    const conversation = rt.queueCfg.get(queueId)?.conversation;
    if (upTo === null || conversation === undefined || this.peers.length === 0) return 0;
    let told = 0;
    for (const p of this.peers) {
      try {
        const body = seal(p.e2e, rt.host.rng, { kind: EnvelopeKind.e2eBody, recordId: '', queueId: p.queueId }, encodeReadMarker({ conversation, upTo }));
        await rt.phase.run('sendNetwork', async () => {
          await rt.ensureConnected();
          await rt.transport.send(p.queueId, body, { notification: true });
        });
        told++;
      } catch (e) {
        rt.log('warn', 'push', 'read marker not sent: the other device keeps its banners until opened there', { queueId: p.queueId, code: isNsekitError(e) ? e.code : String(e) });
      }
    }
    rt.log('info', 'push', `read:sync sent to ${told} of ${this.peers.length} device(s)`, { queueId, upTo });
    rt.emit('read-sync', { state: 'sent', queueId, upTo, devices: told, of: this.peers.length });
    return told;
  }
}
