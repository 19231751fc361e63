import { EnvelopeKind, open, seal } from '../crypto/index.js';
import { isNsekitError, NsekitError } from '../errors.js';
import type { StoredMessage } from '../host.js';
import { e2eBinding } from '../inbound/index.js';
import { reportQuarantined } from './quarantine.js';
import type { SessionRuntime } from './runtime.js';

/**
 * Import the pending inbox into the store (docs/store.md "Pending inbox"): every record the NSE
 * appended while the device was locked is re-sealed with the at-rest body key and inserted in one
 * store transaction, then its claim is removed. A record that never opens goes to the quarantine;
 * read markers (./read-sync.ts) are stored unflagged and applied once the import committed.
 * Returns how many messages were new to the store.
 */
export async function importPendingInbox(rt: SessionRuntime, bodyKey: Uint8Array): Promise<number> {
  const quarantineAdd = rt.store.quarantineAdd?.bind(rt.store);
  // Read markers appended while locked (./read-sync.ts): applied once the import committed.
  const markers: Uint8Array[] = [];
  const reseal = (rec: StoredMessage): StoredMessage => {
    const e2e = rt.queueCfg.get(rec.queueId)?.e2e;
    if (!e2e) throw new NsekitError('CRYPTO_BAD_KEY', `no end-to-end key for queue ${rec.queueId}`);
    const plain = open(e2e, e2eBinding(rec.queueId), rec.sealed);
    const sealed = seal(bodyKey, rt.host.rng, { kind: EnvelopeKind.messageBody, recordId: rec.msgId, queueId: rec.queueId }, plain);
    if (rt.readSync.isSyncQueue(rec.queueId)) {
      markers.push(plain.slice());
      plain.fill(0);
      return { ...rec, flags: { notification: false }, sealed };
    }
    plain.fill(0);
    return { ...rec, sealed };
  };
  // A record that never opens was appended while locked (nothing could be decrypted then): it goes
  // into the store's quarantine, then the CRYPTO_* error lets the inbox set it aside (`.rejected`) as before.
  const transform = async (rec: StoredMessage): Promise<StoredMessage> => {
    try {
      return reseal(rec);
    } catch (e) {
      if (!quarantineAdd || !isNsekitError(e) || !e.code.startsWith('CRYPTO_')) throw e;
      const q = { msgId: rec.msgId, queueId: rec.queueId, ts: rec.ts, flags: { ...rec.flags }, sealed: rec.sealed, reason: e.code, via: 'import' };
      // A failure here (e.g. LOCK_TIMEOUT) is not CRYPTO_*: the import stops and keeps its claim for the next one.
      const fresh = await rt.retryOnLockTimeout('quarantine', () => quarantineAdd(q), () => true, { msgId: rec.msgId, via: 'import' });
      reportQuarantined(rt, q, fresh);
      throw e;
    }
  };
  const r = await rt.inbox.importInto(rt.store, { transform });
  if (r.records || r.markers) {
    rt.log('info', 'sync', 'pending inbox imported', { ...r });
    rt.emit('imported', { count: r.inserted, records: r.records, duplicates: r.duplicates, markers: r.markers });
  }
  // Best effort, as a marker's send: one that cannot be applied now leaves banners, loses nothing.
  for (const plain of markers.splice(0)) {
    await rt.readSync.apply(plain, 'import').catch((e: unknown) => rt.log('warn', 'push', 'imported read marker not applied', { code: isNsekitError(e) ? e.code : String(e) }));
    plain.fill(0);
  }
  return r.inserted;
}
