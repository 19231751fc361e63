import { EventEmitter } from 'node:events';
import { RelayDb } from '../../src/relay/db.js';

/**
 * Relay-side observation. The relay answers SEND with a bare OK (no msgId) and
 * deletes on ACK without a log, but the simulator needs both to pair a sender's
 * SEND with the msgId the device stores, and to know what the relay deleted
 * (invariant 1). The relay runs inside the orchestrator's process, so we wrap
 * RelayDb's two writes once, process-wide, and re-emit them; listeners filter
 * by the queue ids of their own run (random per run, so runs never mix).
 * Behaviour is unchanged: the original methods run first, the event is sync.
 */
export interface RelayTapEvents {
  insert: [m: { queueId: string; msgId: string }];
  delete: [queueId: string, msgId: string];
}
export const relayTap = new EventEmitter<RelayTapEvents>();
relayTap.setMaxListeners(0);

type AnyFn = (...args: any[]) => any;

let installed = false;
export function installRelayTap(): void {
  if (installed) return;
  installed = true;
  const proto = RelayDb.prototype as unknown as Record<string, AnyFn>;
  // SEND is stored by `storeSend` (returns {msgId, duplicate}) or, in older relays, `insertMessage(m)`.
  if (typeof proto.storeSend === 'function') {
    const storeSend = proto.storeSend;
    proto.storeSend = function (this: RelayDb, queueId: string, ...rest: unknown[]) {
      const r = storeSend.call(this, queueId, ...rest) as { msgId: string; duplicate?: boolean };
      if (r && !r.duplicate) relayTap.emit('insert', { queueId, msgId: r.msgId });
      return r;
    };
  }
  if (typeof proto.insertMessage === 'function') {
    const insert = proto.insertMessage;
    proto.insertMessage = function (this: RelayDb, m: { queueId: string; msgId: string }, ...rest: unknown[]) {
      const r = insert.call(this, m, ...rest);
      relayTap.emit('insert', { queueId: m.queueId, msgId: m.msgId });
      return r;
    };
  }
  const del = proto.deleteMessage!;
  proto.deleteMessage = function (this: RelayDb, queueId: string, msgId: string) {
    const gone = del.call(this, queueId, msgId) as boolean;
    if (gone) relayTap.emit('delete', queueId, msgId);
    return gone;
  };
}
