import { EventEmitter } from 'node:events';
import { RelayDb, type MsgRow } from '../../src/relay/db.js';

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
  insert: [m: MsgRow];
  delete: [queueId: string, msgId: string];
}
export const relayTap = new EventEmitter<RelayTapEvents>();
relayTap.setMaxListeners(0);

let installed = false;
export function installRelayTap(): void {
  if (installed) return;
  installed = true;
  const proto = RelayDb.prototype;
  const insert = proto.insertMessage;
  const del = proto.deleteMessage;
  proto.insertMessage = function (this: RelayDb, m, ntf) {
    insert.call(this, m, ntf);
    relayTap.emit('insert', m);
  };
  proto.deleteMessage = function (this: RelayDb, queueId, msgId) {
    const gone = del.call(this, queueId, msgId);
    if (gone) relayTap.emit('delete', queueId, msgId);
    return gone;
  };
}
