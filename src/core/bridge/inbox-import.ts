/**
 * Import of the pending inbox on unlock. Records hold the relay body as
 * received (end-to-end sealed): open it with the queue's key, re-seal it with
 * the at-rest body key, insert (idempotent). The claim file is deleted only
 * after every record is durable, so a crash or a transient failure (lock,
 * store, gate) leaves the claim for the next attempt; a record that does not
 * open (CRYPTO_*) is set aside, since retrying cannot help. The claim's
 * `notified` markers go into the store's notifications first: the host has
 * no multi-row transaction, and marked-before-inserted means a store-path
 * insert of such a message in between shows nothing either.
 */
import { fromBase64 } from '../bytes.js';
import { EnvelopeKind, open, seal } from '../crypto/index.js';
import { NsekitError, isNsekitError } from '../errors.js';
import type { Gate, Host, Store } from '../host.js';
import { e2eBinding } from '../inbound/index.js';
import { call } from './adapters.js';
import type { BridgeHost, ImportSummary, InboxClaim } from './contract.js';

export interface ImportDeps {
  bridge: BridgeHost;
  host: Host;
  store: Store;
  /** Claiming and deleting touch files in the app group: database class, like every store write. */
  gate: Gate;
  gateTimeoutMs: number;
  bodyKey(): Uint8Array | null;
  e2eKey(queueId: string): Uint8Array | null;
}

function checkClaim(c: InboxClaim): InboxClaim {
  const bad = () => new NsekitError('BRIDGE_HOST_ERROR', 'inboxClaim must answer {claimId, records, notified, torn, bad} or null');
  if (!c || typeof c.claimId !== 'string' || !Array.isArray(c.records)) throw bad();
  // A host from before the markers omits `notified`: nothing to carry over.
  const notified = c.notified ?? [];
  if (!Array.isArray(notified) || !notified.every((id) => typeof id === 'string' && id !== '')) throw bad();
  return { ...c, notified };
}

export async function importPendingInbox(d: ImportDeps): Promise<ImportSummary> {
  const sum: ImportSummary = { records: 0, notified: 0, inserted: 0, duplicates: 0, rejected: 0, torn: 0, bad: 0 };
  const db = <T>(fn: () => Promise<T>) => d.gate.run('database', fn, { timeoutMs: d.gateTimeoutMs });
  const raw = await db(() => call<InboxClaim | null>(d.bridge, 'inboxClaim', (cb) => d.bridge.inboxClaim(cb)));
  if (raw === null || raw === undefined) return sum;
  const claim = checkClaim(raw);
  sum.records = claim.records.length;
  sum.torn = Number(claim.torn) || 0;
  sum.bad = Number(claim.bad) || 0;
  for (const id of new Set(claim.notified)) {
    if (await d.store.markNotified(id)) sum.notified++;
  }
  for (const r of claim.records) {
    const bodyKey = d.bodyKey();
    if (!bodyKey) throw new NsekitError('STORE_LOCKED', 'device locked again while importing the inbox');
    let sealed: Uint8Array;
    try {
      const key = d.e2eKey(r.queueId);
      if (!key) throw new NsekitError('CRYPTO_BAD_KEY', `no end-to-end key for queue ${r.queueId}`);
      const body = fromBase64(String(r.sealed));
      if (!body) throw new NsekitError('CRYPTO_TRUNCATED', 'inbox record is not base64');
      const plain = open(key, e2eBinding(r.queueId), body);
      sealed = seal(bodyKey, d.host.rng, { kind: EnvelopeKind.messageBody, recordId: r.msgId, queueId: r.queueId }, plain);
      plain.fill(0);
    } catch (e) {
      if (!isNsekitError(e) || !e.code.startsWith('CRYPTO_')) throw e;
      sum.rejected++;
      d.host.log.log('warn', 'inbox', 'inbox record set aside', { msgId: r.msgId, queueId: r.queueId, code: e.code });
      continue;
    }
    const inserted = await d.store.putMessage({
      msgId: r.msgId,
      queueId: r.queueId,
      ts: Number(r.ts) || 0,
      flags: { notification: r.notification === true },
      sealed,
    });
    if (inserted) sum.inserted++;
    else sum.duplicates++;
  }
  await db(() => call<null>(d.bridge, 'inboxClaimDone', (cb) => d.bridge.inboxClaimDone(claim.claimId, cb)));
  d.host.log.log('info', 'inbox', 'pending inbox imported', { ...sum });
  return sum;
}
