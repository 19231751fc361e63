/**
 * The receive pipeline: receive → decrypt → dedupe → store (or pending inbox)
 * → ACK → notify. The one rule that matters: a message is ACKed (deleted at
 * the relay) only after it is durable locally, so a crash or failed write
 * anywhere before leaves it at the relay for the next GET.
 */
import { decodeContent, isUserContent, notificationText, type MessageContent } from '../content.js';
import { EnvelopeKind, open, seal } from '../crypto/index.js';
import { e2eBinding } from './e2e.js';
import { NsekitError, isNsekitError } from '../errors.js';
import { withThread } from '../notification/index.js';
import type { Host, MessageFlags, NotificationContent, Notifier, PendingInbox, RelayMessage, Store } from '../host.js';
import type { QueueCoordinator } from '../queue/index.js';

export interface InboundDeps {
  host: Host;
  /** null = device locked: the store's key is not in memory. */
  store: Store | null;
  inbox: PendingInbox;
  notifier: Notifier;
  /** The queue's end-to-end key (shared with the sender), or null if unknown. */
  e2eKey(queueId: string): Uint8Array | null;
  /** At-rest body key (KeyRing.body); null when locked. */
  bodyKey: Uint8Array | null;
  /** Log tag: 'nse' in the NSE process, 'sync' (default) in the app. */
  logTag?: 'nse' | 'sync';
  /**
   * Keep a message that can never be processed (its body does not open: tampered, sealed for
   * another queue or key, not an envelope) durably, sealed as received; resolves once durable,
   * and only then is the message ACKed, so its queue moves on. Without it such a message is
   * released without ACK and stays at the head of its queue (docs/receive.md "Quarantine").
   */
  quarantine?: (q: PoisonMessage) => Promise<boolean>;
  /**
   * The device-sync queue (docs/notifications.md "Read on another device"): its messages are the
   * user's other devices' read markers — never shown, stored without the notification flag (never
   * counted), applied (durably) before their ACK. Without it every queue is a conversation.
   */
  control?: DeviceSyncHandler;
}

export interface DeviceSyncHandler {
  isSyncQueue(queueId: string): boolean;
  /** Apply one opened marker; resolves once its effect is durable. */
  apply(plain: Uint8Array, msgId: string): Promise<void>;
}

/** What the quarantine keeps of a message that can never be processed. */
export interface PoisonMessage {
  msgId: string;
  queueId: string;
  ts: number;
  flags: MessageFlags;
  /** The relay body exactly as received (still end-to-end sealed: nothing was decrypted). */
  sealed: Uint8Array;
  /** The error code that makes it unprocessable (CRYPTO_AUTH_FAILED, CRYPTO_BAD_VERSION, …). */
  reason: string;
}
/** A quarantine record: the poison message and where it was met ('nse', 'get', 'sub', 'fallback', 'import', 'retry', …). */
export interface QuarantineInput extends PoisonMessage {
  via: string;
}

export type InboundOutcome = {
  msgId: string;
  /**
   * Not shown because it was shown before (its at-most-once record exists: the store's, or while
   * locked the inbox marker) — fetched again because its ACK was lost. Absent otherwise.
   */
  redelivered?: true;
  /** `quarantine`: never processable, kept sealed in the store's quarantine, ACKed, not shown. */
  stored: 'store' | 'inbox' | 'duplicate' | 'quarantine';
  notified: boolean;
  content?: NotificationContent;
  /** A device-sync message (a read marker): applied, never shown. */
  control?: true;
};

/** Generic content when the body cannot be read (device locked). */
export const GENERIC_TITLE = 'New message';

/** Result of the durable part; `pending` is the notification still to show. */
type Ingested = { msgId: string; stored: InboundOutcome['stored']; pending: NotificationContent | null; shownBefore?: boolean; control?: true };

/** The relay body can never be opened here: no retry of the same bytes will ever succeed. */
class Unprocessable {
  constructor(readonly error: NsekitError) {}
}

/**
 * Decrypt and make durable. A body that can never be opened is quarantined (durable, sealed as
 * received) when the deps can, and comes back as `quarantine` — the caller ACKs it like a stored
 * message; without a quarantine it throws (typed) before anything is written.
 */
async function ingest(deps: InboundDeps, m: RelayMessage): Promise<Ingested> {
  try {
    return await ingestMessage(deps, m);
  } catch (e) {
    if (!(e instanceof Unprocessable)) throw e;
    if (!deps.quarantine) throw e.error;
    await deps.quarantine({ msgId: m.msgId, queueId: m.queueId, ts: m.ts, flags: { ...m.flags }, sealed: m.body, reason: e.error.code });
    deps.host.log.log('warn', deps.logTag ?? 'sync', 'quarantined: the body never opens; kept sealed, ACK follows', {
      msgId: m.msgId,
      queueId: m.queueId,
      reason: e.error.code,
    });
    return { msgId: m.msgId, stored: 'quarantine', pending: null };
  }
}

/** Decrypt and make durable. Throws before anything is written if the body does not open (Unprocessable). */
async function ingestMessage(deps: InboundDeps, m: RelayMessage): Promise<Ingested> {
  const { host } = deps;
  const tag = deps.logTag ?? 'sync';
  // Read the store once: a host may expose it through a live getter that turns null when the
  // device locks mid-message; the store object itself then answers with typed errors.
  const store = deps.store;
  const sync = deps.control?.isSyncQueue(m.queueId) === true;
  if (!store && sync) {
    // A read marker while locked: kept for the import (which applies it), without the flag and
    // without a banner — the queue alone says what it is, no body needs to open.
    const record = { msgId: m.msgId, queueId: m.queueId, ts: m.ts, flags: { notification: false }, sealed: m.body };
    await deps.inbox.append(record);
    host.log.log('info', tag, 'locked: read marker appended to pending inbox', { msgId: m.msgId });
    return { msgId: m.msgId, stored: 'inbox', pending: null, control: true };
  }
  if (!store) {
    // Locked: keep the relay body as is (still e2e-sealed, opaque) for import on unlock.
    await deps.inbox.append({ msgId: m.msgId, queueId: m.queueId, ts: m.ts, flags: { ...m.flags }, sealed: m.body });
    await host.failpoints.hit('inbox.append.done', { msgId: m.msgId });
    host.log.log('info', tag, 'locked: appended to pending inbox', { msgId: m.msgId, queueId: m.queueId });
    // The inbox marker is the locked device's at-most-once record: a re-fetch before the ACK landed
    // appends the record again (the import dedupes) but finds the marker and shows nothing.
    const announceIt = m.flags.notification && (await deps.inbox.markNotified(m.msgId, m.queueId)) && (await notYetInStore(deps, m));
    const pending = announceIt ? withThread({ msgId: m.msgId, queueId: m.queueId, title: GENERIC_TITLE, body: '' }) : null;
    return { msgId: m.msgId, stored: 'inbox', pending, ...(m.flags.notification && !announceIt ? { shownBefore: true } : {}) };
  }
  if (!deps.bodyKey) throw new NsekitError('STORE_LOCKED', 'store open but no body key in memory');
  let plain: Uint8Array;
  try {
    const key = deps.e2eKey(m.queueId);
    if (!key) throw new NsekitError('CRYPTO_BAD_KEY', `no end-to-end key for queue ${m.queueId}`, { queueId: m.queueId });
    plain = open(key, e2eBinding(m.queueId), m.body);
  } catch (e) {
    // Tampered, sealed for another queue or key, not an envelope, or no key for its queue.
    throw isNsekitError(e) && e.code.startsWith('CRYPTO_') ? new Unprocessable(e) : e;
  }
  await host.failpoints.hit('inbound.decrypted', { msgId: m.msgId });
  if (sync) return ingestReadMarker(deps, store, m, plain);
  let content: MessageContent;
  try {
    content = decodeContent(plain);
  } catch (e) {
    // Authentic but unreadable: keep it (as 'other', never notified) rather than block the queue forever.
    if (!isNsekitError(e, 'CONTENT_MALFORMED')) throw e;
    host.log.log('warn', tag, 'malformed content stored as other', { msgId: m.msgId });
    content = { type: 'other' };
  }
  const sealed = seal(deps.bodyKey, host.rng, { kind: EnvelopeKind.messageBody, recordId: m.msgId, queueId: m.queueId }, plain);
  plain.fill(0);
  const inserted = await store.putMessage({ msgId: m.msgId, queueId: m.queueId, ts: m.ts, flags: { ...m.flags }, sealed });
  await host.failpoints.hit('db.write.done', { msgId: m.msgId, duplicate: !inserted });
  host.log.log('debug', tag, inserted ? 'stored' : 'duplicate', { msgId: m.msgId, queueId: m.queueId, type: content.type });
  let pending: NotificationContent | null = null;
  let shownBefore = false;
  // markNotified is the durable "at most once" record, shared by both processes.
  if (inserted && isUserContent(content) && (await store.markNotified(m.msgId)) && !(await shownWhileLocked(deps, m))) {
    pending = withThread({ msgId: m.msgId, queueId: m.queueId, ...notificationText(content) });
  } else if (inserted && isUserContent(content)) {
    shownBefore = true; // its at-most-once record was there: shown before, fetched again
  }
  return { msgId: m.msgId, stored: inserted ? 'store' : 'duplicate', pending, ...(shownBefore ? { shownBefore } : {}) };
}

/** A read marker, opened: applied first (durable), then kept without the flag as the ACK's durable record. */
async function ingestReadMarker(deps: InboundDeps, store: Store, m: RelayMessage, plain: Uint8Array): Promise<Ingested> {
  await deps.control!.apply(plain, m.msgId);
  const sealed = seal(deps.bodyKey!, deps.host.rng, { kind: EnvelopeKind.messageBody, recordId: m.msgId, queueId: m.queueId }, plain);
  plain.fill(0);
  const inserted = await store.putMessage({ msgId: m.msgId, queueId: m.queueId, ts: m.ts, flags: { notification: false }, sealed });
  await deps.host.failpoints.hit('db.write.done', { msgId: m.msgId, duplicate: !inserted });
  return { msgId: m.msgId, stored: inserted ? 'store' : 'duplicate', pending: null, control: true };
}

/**
 * A fetch that began locked may end after the key came back and an import moved the other
 * process's marker for m into the store: then the store's record has the last word too.
 * Only narrows a window, so a failure (e.g. locked again meanwhile) means "show".
 */
async function notYetInStore(deps: InboundDeps, m: RelayMessage): Promise<boolean> {
  const store = deps.store; // live: null while still locked
  if (!store) return true;
  try {
    return await store.markNotified(m.msgId);
  } catch {
    return true;
  }
}

/**
 * The pending inbox's marker is the one at-most-once record both lock states can read: the
 * store's is unreadable while the device is locked. So a notification shown from the store
 * path leaves a marker too (false here: a process that was locked showed m already, or will
 * find the marker if it fetches m again before the ACK lands). Only a guard against a second
 * banner: if the marker append fails, show (a possible duplicate beats a missed message).
 */
async function shownWhileLocked(deps: InboundDeps, m: RelayMessage): Promise<boolean> {
  try {
    if (await deps.inbox.markNotified(m.msgId, m.queueId)) return false;
  } catch (e) {
    deps.host.log.log('warn', deps.logTag ?? 'sync', 'inbox marker append failed: notifying', {
      msgId: m.msgId,
      code: isNsekitError(e) ? e.code : 'unknown',
    });
    return false;
  }
  deps.host.log.log('info', deps.logTag ?? 'sync', 'already notified while locked', { msgId: m.msgId, queueId: m.queueId });
  return true;
}

async function announce(deps: InboundDeps, i: Ingested): Promise<InboundOutcome> {
  if (!i.pending) return { msgId: i.msgId, stored: i.stored, notified: false, ...(i.shownBefore ? { redelivered: true as const } : {}), ...(i.control ? { control: true as const } : {}) };
  await deps.notifier.show(i.pending);
  await deps.host.failpoints.hit('notify.shown', { msgId: i.msgId });
  return { msgId: i.msgId, stored: i.stored, notified: true, content: i.pending };
}

/** Process one relay message end to end (without ACK: the caller ACKs after this resolves). */
export async function processInbound(deps: InboundDeps, m: RelayMessage): Promise<InboundOutcome> {
  return announce(deps, await ingest(deps, m));
}

export interface FetchOptions {
  /** GETs after the first, at most (default 3). */
  maxExtraGets?: number;
  /** Asked right before each GET goes out: true = no further GET. */
  stop?: () => boolean;
  /**
   * The NSE's rule (docs/receive.md "Extra GETs follow the notification flag"): GET again only
   * after a message WITHOUT the notification flag; stop after the first new message that carries
   * it — that is the message the push was for. A re-delivery (already stored, or appended while
   * locked with its `notified` marker already there: shown before, its ACK lost) does not stop the
   * loop: the push was for a later message.
   */
  untilNotification?: boolean;
}

/** After this outcome of a message with these flags, the NSE's loop (untilNotification) stops. */
export function endsNotificationFetch(flags: MessageFlags, o: InboundOutcome): boolean {
  return flags.notification && o.stored !== 'duplicate' && !o.redelivered;
}

/**
 * GET → process → ACK for up to 1 + maxExtraGets messages of one queue, while
 * the relay has more (and, with `untilNotification`, until a message carrying the
 * notification flag). ACK only after the write resolved; on any failure
 * before that the slot is released without ACK and the error is rethrown.
 */
export async function fetchAndProcess(
  deps: InboundDeps,
  queues: QueueCoordinator,
  queueId: string,
  opts: FetchOptions = {},
): Promise<InboundOutcome[]> {
  const max = 1 + Math.max(0, opts.maxExtraGets ?? 3);
  const out: InboundOutcome[] = [];
  for (let i = 0; i < max; i++) {
    // `stop` is asked again right before each GET goes out (the caller may have been held).
    const r = await queues.getMessage(queueId, opts.stop ? { abort: opts.stop } : {});
    if (!r) break;
    let ing: Ingested;
    try {
      ing = await ingest(deps, r.msg);
    } catch (e) {
      r.release();
      deps.host.log.log('warn', deps.logTag ?? 'sync', 'not ACKed: processing failed', {
        msgId: r.msg.msgId,
        queueId,
        code: isNsekitError(e) ? e.code : 'unknown',
      });
      throw e;
    }
    out.push(await ackThenAnnounce(deps, ing, () => r.ack()));
    if (opts.untilNotification && endsNotificationFetch(r.msg.flags, out[out.length - 1]!)) break;
  }
  return out;
}

/**
 * Deliver one message that arrived by SUB: make it durable, ACK it, then show it — the same
 * order as a GET (fetchAndProcess). The caller's `ack` runs in its receive gate.
 */
export async function deliverInbound(deps: InboundDeps, m: RelayMessage, ack: () => Promise<void>): Promise<InboundOutcome> {
  return ackThenAnnounce(deps, await ingest(deps, m), ack);
}

/**
 * ACK, then announce. Durable either way, so a failed ACK still shows the message (an un-ACKed
 * copy dedupes on the next GET) — except PROTO_NO_MSG: another process ACKed it first, so it
 * holds the message durably and shows it itself. A process frozen or suspended mid-receive and
 * resumed after the other one fetched, stored and shown the message (possibly while the device
 * was locked, where neither can read the other's store record) would show it a second time.
 */
async function ackThenAnnounce(deps: InboundDeps, ing: Ingested, ack: () => Promise<void>): Promise<InboundOutcome> {
  let ackError: unknown = null;
  try {
    await ack();
  } catch (e) {
    ackError = e;
  }
  if (isNsekitError(ackError, 'PROTO_NO_MSG')) {
    deps.host.log.log('info', deps.logTag ?? 'sync', 'ACKed by another process first: it shows the message', { msgId: ing.msgId });
    throw ackError;
  }
  const out = await announce(deps, ing);
  if (ackError) throw ackError;
  return out;
}
