/**
 * The app's ports: the NSE's (./ports.ts) plus what only the app session
 * uses — the store's cursors, outbox and the inbox import's batch insert, the
 * pending inbox's import (inboxClaim/inboxClaimDone), and a relay connection
 * with SUB/UNSUB/SEND/PING and the host's callbacks for deliveries, END and
 * close. Kept apart so the NSE bundle carries none of it.
 */
import { fromBase64, toBase64 } from '../bytes.js';
import { NsekitError, isNsekitError } from '../errors.js';
import type { Gate, Host, MessageFlags, RelayMessage, SendOptions, StoredMessage } from '../host.js';
import {
  emptyImportResult,
  type Cursor,
  type ImportOptions,
  type ImportResult,
  type InboxImportTarget,
  type OutboxItem,
  type OutboxState,
  type PushTokenPort,
  type StatusClient,
} from '../session/ports.js';
import { bad, call, decodeRelayMessage, expectBool } from './adapters.js';
import type { BridgeHost, InboxClaim, WireCursor, WireOutboxItem } from './contract.js';
import { BridgeInbox, BridgeLock, BridgeStore, BridgeTransport, type BridgePorts } from './ports.js';

export class AppStore extends BridgeStore {
  /** `notified` markers the last putMessages recorded anew (the import summary's `notified`). */
  newMarkers = 0;

  /**
   * The inbox import's batch. The contract has no multi-row transaction: markers first, each in
   * its own lock hold (marked-before-inserted: a store-path insert in between shows nothing
   * either), then the records.
   */
  override async putMessages(ms: StoredMessage[], notified: readonly string[] = []): Promise<number> {
    this.newMarkers = 0;
    for (const id of new Set(notified)) if (await this.markNotified(id)) this.newMarkers++;
    let n = 0;
    for (const m of ms) if (await this.putMessage(m)) n++;
    return n;
  }
  override async getCursor(queueId: string): Promise<Cursor> {
    const c = await this.read<WireCursor>('storeGetCursor', (d) => this.h.storeGetCursor!(queueId, d));
    if (!c || typeof c !== 'object') throw bad('storeGetCursor must answer {lastMsgId, lastTs}');
    return { lastMsgId: typeof c.lastMsgId === 'string' ? c.lastMsgId : null, lastTs: Number(c.lastTs) || 0 };
  }
  override async setCursor(queueId: string, c: Cursor): Promise<void> {
    const w: WireCursor = { lastMsgId: c.lastMsgId, lastTs: c.lastTs };
    await this.write<null>('storeSetCursor', (d) => this.h.storeSetCursor!(queueId, w, d), (r) => r, () => true);
  }
  override outboxAdd(item: { clientId: string; queueId: string; body: Uint8Array }): Promise<boolean> {
    const w = { clientId: item.clientId, queueId: item.queueId, body: toBase64(item.body) };
    return this.write('outboxAdd', (d) => this.h.outboxAdd!(w, d), (r) => expectBool('outboxAdd', r), (r) => r);
  }
  override async outboxPending(): Promise<OutboxItem[]> {
    const rows = await this.read<WireOutboxItem[]>('outboxPending', (d) => this.h.outboxPending!(d));
    if (!Array.isArray(rows)) throw bad('outboxPending must answer an array');
    return rows.map((r) => {
      const body = r && typeof r.clientId === 'string' && typeof r.queueId === 'string' ? fromBase64(String(r.body)) : null;
      if (!body) throw bad('outboxPending answered a malformed row');
      return { clientId: r.clientId, queueId: r.queueId, body, state: r.state, attempts: Number(r.attempts) || 0, updatedAt: Number(r.updatedAt) || 0 };
    });
  }
  override async outboxMark(clientId: string, state: Exclude<OutboxState, 'pending'>): Promise<void> {
    await this.write<null>('outboxMark', (d) => this.h.outboxMark!(clientId, state, d), (r) => r, () => true);
  }
}

/** A claim as the host answered it, checked; a host from before the markers omits `notified`. */
function checkClaim(c: InboxClaim): InboxClaim {
  const wrong = () => bad('inboxClaim must answer {claimId, records, notified, torn, bad} or null');
  if (!c || typeof c.claimId !== 'string' || !Array.isArray(c.records)) throw wrong();
  const notified = c.notified ?? [];
  if (!Array.isArray(notified) || !notified.every((id) => typeof id === 'string' && id !== '')) throw wrong();
  return { ...c, notified };
}

export class AppInbox extends BridgeInbox {
  /** What the last import did (the facade's import summary); null until one ran. */
  last: ImportResult | null = null;

  /**
   * One claim per import (the host answers a leftover claim first; the live file's records wait
   * for the next import): re-seal every record (`transform`), insert them with the claim's markers,
   * then inboxClaimDone. Any failure but a record's CRYPTO_* leaves the claim for the next import.
   */
  override async importInto(store: InboxImportTarget, opts: ImportOptions = {}): Promise<ImportResult> {
    const r = emptyImportResult();
    const raw = await this.gate.run('database', () => call<InboxClaim | null>(this.h, 'inboxClaim', (d) => this.h.inboxClaim!(d)));
    this.last = r;
    if (raw === null || raw === undefined) return r;
    const claim = checkClaim(raw);
    r.files = 1;
    r.records = claim.records.length;
    r.torn = Number(claim.torn) || 0;
    r.bad = Number(claim.bad) || 0;
    r.markers = claim.notified.length;
    const recs: StoredMessage[] = [];
    for (const w of claim.records) {
      try {
        const sealed = fromBase64(String(w.sealed));
        if (!sealed) throw new NsekitError('CRYPTO_TRUNCATED', 'inbox record is not base64');
        const rec: StoredMessage = { msgId: w.msgId, queueId: w.queueId, ts: Number(w.ts) || 0, flags: { notification: w.notification !== false }, sealed };
        recs.push(opts.transform ? await opts.transform(rec) : rec);
      } catch (e) {
        if (!isNsekitError(e) || !e.code.startsWith('CRYPTO_')) throw e;
        r.rejected++;
      }
    }
    const n = await store.putMessages(recs, claim.notified);
    r.inserted = n;
    r.duplicates = recs.length - n;
    await this.gate.run('database', () => call<null>(this.h, 'inboxClaimDone', (d) => this.h.inboxClaimDone!(claim.claimId, d)));
    return r;
  }
}

/** The app's relay connection: the host calls back for deliveries, a relay END and the connection's end. */
export class AppTransport extends BridgeTransport {
  private connected_ = false;
  private readonly closeFns = new Set<() => void>();
  private readonly endFns = new Set<(queueId: string) => void>();

  constructor(
    h: BridgeHost,
    private readonly host: Host,
  ) {
    super(h);
  }

  override get connected(): boolean {
    return this.connected_;
  }
  override async connect(): Promise<void> {
    if (this.connected_) return;
    // This connection's callbacks: after its onClose, later calls from it are ignored.
    let live = true;
    const onClose = () => {
      if (!live) return;
      live = false;
      this.connected_ = false;
      for (const fn of [...this.closeFns]) fn();
    };
    const onEnd = (queueId: string) => {
      if (live && typeof queueId === 'string') for (const fn of [...this.endFns]) fn(queueId);
    };
    await call<null>(this.h, 'transportConnect', (d) => this.h.transportConnect!(onClose, onEnd, d));
    this.connected_ = live;
  }
  override async ping(): Promise<void> {
    await call<null>(this.h, 'transportPing', (d) => this.h.transportPing!(d));
  }
  override async subscribe(queueId: string, onMessage: (m: RelayMessage) => void): Promise<void> {
    const deliver = (w: Parameters<typeof decodeRelayMessage>[1]) => {
      let m: RelayMessage | null;
      try {
        m = decodeRelayMessage('transportSubscribe', w, queueId);
      } catch (e) {
        this.host.log.log('error', 'rt', 'malformed delivery dropped', { queueId, code: isNsekitError(e) ? e.code : 'unknown' });
        return;
      }
      if (m) onMessage(m);
    };
    await call<null>(this.h, 'transportSubscribe', (d) => this.h.transportSubscribe!(queueId, deliver, d));
  }
  override async unsubscribe(queueId: string): Promise<void> {
    await call<null>(this.h, 'transportUnsubscribe', (d) => this.h.transportUnsubscribe!(queueId, d));
  }
  override async send(queueId: string, body: Uint8Array, flags: MessageFlags, opts?: SendOptions): Promise<void> {
    await this.sendWithResult(queueId, body, flags, opts);
  }
  override async sendWithResult(queueId: string, body: Uint8Array, flags: MessageFlags, opts: SendOptions = {}): Promise<{ msgId?: string; duplicate: boolean }> {
    const r = await call<{ msgId?: unknown; duplicate?: unknown } | null>(this.h, 'transportSend', (d) =>
      this.h.transportSend!(queueId, toBase64(body), flags.notification, opts.clientId ?? '', d),
    );
    return { ...(r && typeof r.msgId === 'string' ? { msgId: r.msgId } : {}), duplicate: r?.duplicate === true };
  }
  /** NSUB through the host (the push-token port is plugged in only when the host has it). */
  async nsub(queueId: string, deviceToken: string, meta: { platform?: string; appVersion?: string }): Promise<{ notifierId: string; notifierKey: Uint8Array }> {
    const r = await call<{ notifierId?: unknown; notifierKey?: unknown } | null>(this.h, 'transportNsub', (d) =>
      this.h.transportNsub!(queueId, deviceToken, meta.platform ?? 'ios', meta.appVersion ?? '1.0.0', d),
    );
    const key = typeof r?.notifierKey === 'string' ? fromBase64(r.notifierKey) : null;
    if (!r || typeof r.notifierId !== 'string' || !key || key.length !== 32) throw bad('transportNsub must answer {notifierId, notifierKey (base64, 32 bytes)}');
    return { notifierId: r.notifierId, notifierKey: key };
  }
  async ndel(queueId: string): Promise<void> {
    await call<null>(this.h, 'transportNdel', (d) => this.h.transportNdel!(queueId, d));
  }
  override onClose(fn: () => void): () => void {
    this.closeFns.add(fn);
    return () => this.closeFns.delete(fn);
  }
  override onEnd(fn: (queueId: string) => void): () => void {
    this.endFns.add(fn);
    return () => this.endFns.delete(fn);
  }
}

/** The relay's status endpoint through the host (low-power mode). */
function appStatus(h: BridgeHost): StatusClient {
  return {
    async get(path) {
      const r = await call<{ status?: unknown; body?: unknown } | null>(h, 'statusGet', (d) => h.statusGet!(path, d));
      return { status: Number(r?.status) || 0, body: r?.body ?? {} };
    },
  };
}

export interface AppPorts extends BridgePorts {
  store: AppStore;
  inbox: AppInbox;
  transport: AppTransport;
}

export function appPorts(h: BridgeHost, host: Host, gate: Gate, lockTimeoutMs: number, pushToken?: PushTokenPort): AppPorts {
  const lock = new BridgeLock(h, host, 'app', lockTimeoutMs);
  return {
    lock,
    store: new AppStore(h, lock, gate),
    inbox: new AppInbox(h, gate),
    transport: new AppTransport(h, host),
    status: appStatus(h),
    ...(pushToken ? { pushToken } : {}),
  };
}

