import type { WebSocket, RawData } from 'ws';
import { fromBase64, toBase64, toHex } from '../core/bytes.js';
import { NsekitError, isNsekitError, type ErrorCode } from '../core/errors.js';
import type { Clock, Log, Rng } from '../core/host.js';
import { decodeClientFrame } from '../core/protocol/codec.js';
import { FIELD_LIMITS, type ClientFrame, type ServerFrame } from '../core/protocol/frames.js';
import { sealNotificationId } from '../core/protocol/notification-id.js';
import { truncateSecret } from '../node/host.js';
import { credMatches, type QueueRow, type RelayDb } from './db.js';
import type { NotificationDispatcher } from './notifications.js';
import { afterGroupSend, createGroup, storeGroupSend } from './groups.js';
import { Liveness } from './liveness.js';
import { RefusalWindow, TokenBucket } from './rate-limit.js';
import { msgFrame, type Subscriber, type Subscriptions } from './subscriptions.js';
import { CLOSE_CODES, type RelayLimits, type SendDedupeOptions } from './limits.js';

/** What a stored (or deduped) SEND looked like, for the test tap. */
export interface SendStoredEvent {
  connId: number;
  queueId: string;
  msgId: string;
  clientId?: string;
  duplicate: boolean;
}
/**
 * Test tap, called after a SEND committed and before its OK is written.
 * Returning 'drop' cuts the sender's socket instead of answering: the "relay
 * stored it but the OK was lost" case, on demand.
 */
export type SendTap = (e: SendStoredEvent) => 'drop' | void;

/** Everything a connection shares with the rest of the relay. */
export interface RelayContext {
  db: RelayDb;
  subs: Subscriptions;
  notifier: NotificationDispatcher;
  limits: RelayLimits;
  dedupe: SendDedupeOptions;
  /** See SendTap; null in production. */
  sendTap: SendTap | null;
  clock: Clock;
  rng: Rng;
  log: Log;
}

const randomId = (rng: Rng, n: number) => toHex(rng.randomBytes(n));
const CORR_RE = /^[\x21-\x7e]+$/;

/** Real time for the socket timeouts (see Liveness). */
export const realNow = (): number => performance.now();

/**
 * The corrId of a frame refused before decoding (rate limit), so a client can
 * still match the ERR to its command. Costs one JSON.parse of a frame of at most
 * maxFrameBytes; refusals are themselves bounded by the refusal window.
 */
function peekCorrId(text: string): string | undefined {
  try {
    const o: unknown = JSON.parse(text);
    if (typeof o !== 'object' || o === null || Array.isArray(o)) return undefined;
    const c = (o as Record<string, unknown>).corrId;
    return typeof c === 'string' && c.length > 0 && c.length <= FIELD_LIMITS.corrId && CORR_RE.test(c) ? c : undefined;
  } catch {
    return undefined;
  }
}

function frameText(data: RawData): string {
  return Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as Buffer).toString('utf8');
}

/** One client WebSocket: decode, limit, authorize, execute, answer. */
export class RelayConnection implements Subscriber {
  private readonly bucket: TokenBucket;
  private readonly subscribed = new Set<string>();
  private readonly refusals: RefusalWindow;
  private queuesCreated = 0;
  /** Idle and frame-timeout bookkeeping, read by the server's sweep. */
  readonly liveness = new Liveness(realNow());
  /** When the relay sent its Close frame (real time); the sweep destroys the socket closeTimeoutMs later. */
  private closingSince: number | null = null;

  constructor(
    readonly connId: number,
    private readonly ws: WebSocket,
    private readonly ctx: RelayContext,
  ) {
    this.bucket = new TokenBucket(ctx.clock, ctx.limits.ratePerSec, ctx.limits.rateBurst);
    this.refusals = new RefusalWindow(ctx.clock, ctx.limits.rateCloseAfter, ctx.limits.rateCloseWindowMs);
    ws.on('message', (data, isBinary) => {
      this.liveness.onMessage(realNow());
      this.onFrame(data, isBinary);
    });
    // The server runs ws with autoPong off: a Ping costs a token like any frame, and gets
    // its Pong only if it had one.
    ws.on('ping', (data) => {
      this.liveness.onControl(realNow());
      if (this.ws.readyState !== this.ws.OPEN) return;
      if (this.bucket.take()) this.ws.pong(data);
      else this.refused();
    });
    ws.on('pong', () => {
      this.liveness.onControl(realNow());
      if (this.ws.readyState !== this.ws.OPEN) return;
      if (!this.bucket.take()) this.refused();
    });
  }

  /** Raw socket bytes, after ws parsed them (frame timeout; see Liveness). */
  onSocketData(): void {
    this.liveness.onChunk(realNow());
  }

  /** The server's periodic sweep: keep-alive Ping, idle close, frame-timeout close. */
  sweep(now: number): void {
    const { idleTimeoutMs, frameTimeoutMs, closeTimeoutMs } = this.ctx.limits;
    if (this.ws.readyState === this.ws.CLOSING && this.closingSince !== null && now - this.closingSince >= closeTimeoutMs) {
      // The client never answered our Close (silent, or stuck mid-frame): free the slot now.
      return this.ws.terminate();
    }
    if (this.ws.readyState !== this.ws.OPEN) return;
    switch (this.liveness.check(now, idleTimeoutMs, frameTimeoutMs)) {
      case 'ok':
        return;
      case 'ping':
        this.liveness.pinged = true;
        return this.ws.ping();
      case 'idle':
        this.ctx.log.log('info', 'rt', 'idle connection closed', { conn: this.connId, idleTimeoutMs });
        return this.closeWith(CLOSE_CODES.idle, 'idle timeout');
      case 'frame':
        this.ctx.log.log('warn', 'rt', 'incomplete frame timed out, closing', { conn: this.connId, frameTimeoutMs });
        return this.closeWith(CLOSE_CODES.policy, 'frame timeout');
    }
  }

  sendFrame(f: ServerFrame): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    // A client that does not read must not make the relay buffer without bound.
    if (this.ws.bufferedAmount > this.ctx.limits.maxBufferedBytes) {
      this.ctx.log.log('warn', 'rt', 'client not reading, closing', { conn: this.connId });
      this.closeWith(CLOSE_CODES.policy, 'send buffer full');
      return;
    }
    this.ws.send(JSON.stringify(f));
  }

  onSubscriptionEnded(queueId: string): void {
    this.subscribed.delete(queueId);
  }

  /** Socket closed: its subscriptions end silently. */
  closed(): void {
    this.ctx.subs.dropConnection(this, this.subscribed);
    this.subscribed.clear();
  }

  private err(code: ErrorCode, message: string, corrId?: string): void {
    const f: ServerFrame = { type: 'ERR', code, message };
    if (corrId !== undefined) f.corrId = corrId;
    this.sendFrame(f);
  }

  /** A rate-limited frame: counted in the refusal window; too many within it → close 1008. */
  private refused(): void {
    if (!this.refusals.record()) return;
    this.ctx.log.log('warn', 'rt', 'rate abuse, closing', { conn: this.connId, refusals: this.ctx.limits.rateCloseAfter, windowMs: this.ctx.limits.rateCloseWindowMs });
    this.closeWith(CLOSE_CODES.policy, 'rate limit');
  }

  /** Close frame now; the socket is destroyed closeTimeoutMs later if the client does not answer it. */
  private closeWith(code: number, reason: string): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.closingSince = realNow();
    this.ws.close(code, reason);
  }

  private onFrame(data: RawData, isBinary: boolean): void {
    // Closing (rate abuse, timeouts, shutdown): nothing more is worked on.
    if (this.ws.readyState !== this.ws.OPEN) return;
    const size = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
    const { maxFrameBytes, maxBodyBytes } = this.ctx.limits;
    // Every frame costs a token before any other work: malformed, binary and oversized ones too.
    if (!this.bucket.take()) {
      // A client that keeps sending after refusals is cut off instead of answered forever.
      const corrId = !isBinary && size <= maxFrameBytes ? peekCorrId(frameText(data)) : undefined;
      this.err('PROTO_RATE_LIMIT', 'too many frames, slow down', corrId);
      return this.refused();
    }
    if (isBinary) return this.err('PROTO_MALFORMED', 'binary frames are not part of the protocol');
    if (size > maxFrameBytes) return this.err('PROTO_TOO_LARGE', `frame of ${size} bytes exceeds ${maxFrameBytes}`);
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(frameText(data), { maxBodyBytes });
    } catch (e) {
      if (isNsekitError(e)) return this.err(e.code, e.message, e.details?.corrId as string | undefined);
      // Never let one frame take the relay down.
      this.ctx.log.log('error', 'rt', 'decoder failed', { conn: this.connId, error: String(e) });
      return this.err('PROTO_INTERNAL', 'relay failed to decode the frame');
    }
    try {
      this.execute(frame);
    } catch (e) {
      if (isNsekitError(e)) return this.err(e.code, e.message, frame.corrId);
      this.ctx.log.log('error', 'rt', 'command failed', { conn: this.connId, cmd: frame.type, error: String(e) });
      this.err('PROTO_INTERNAL', 'relay failed to execute the command', frame.corrId);
    }
  }

  /** Unknown queue and wrong credential answer the same: queue existence is not revealed. */
  private recipientQueue(queueId: string, cred: string): QueueRow {
    const q = this.ctx.db.getQueue(queueId);
    if (!q || !credMatches(cred, q.recipientCredHash)) throw new NsekitError('PROTO_AUTH', 'unknown queue or wrong credential');
    return q;
  }

  private execute(f: ClientFrame): void {
    const { db, subs, limits, clock, rng, log } = this.ctx;
    const corrId = f.corrId;
    switch (f.type) {
      case 'PING':
        return this.sendFrame({ type: 'PONG', corrId });
      case 'NEW': {
        if (this.queuesCreated >= limits.maxQueuesPerConn) throw new NsekitError('PROTO_QUOTA', `at most ${limits.maxQueuesPerConn} queues per connection`);
        const queueId = randomId(rng, 16);
        const recipientCred = randomId(rng, 32);
        const senderCred = randomId(rng, 32);
        db.createQueue({ queueId, recipientCred, senderCred, recipientKey: f.recipientKey ? fromBase64(f.recipientKey) : null, now: clock.now() });
        this.queuesCreated++;
        log.log('info', 'rt', 'queue created', { conn: this.connId, queue: truncateSecret(queueId) });
        return this.sendFrame({ type: 'IDS', corrId, queueId, recipientCred, senderCred });
      }
      case 'SEND':
        return this.send(f);
      case 'SUB': {
        this.recipientQueue(f.queueId, f.cred);
        if (!this.subscribed.has(f.queueId) && this.subscribed.size >= limits.maxQueuesPerConn) {
          throw new NsekitError('PROTO_QUOTA', `at most ${limits.maxQueuesPerConn} subscriptions per connection`);
        }
        subs.subscribe(f.queueId, this);
        this.subscribed.add(f.queueId);
        this.sendFrame({ type: 'OK', corrId });
        return subs.deliverNext(f.queueId);
      }
      case 'GET': {
        this.recipientQueue(f.queueId, f.cred);
        const m = db.firstMessage(f.queueId);
        if (!m) throw new NsekitError('PROTO_NO_MSG', 'queue is empty');
        return this.sendFrame(msgFrame(m, corrId));
      }
      case 'ACK': {
        this.recipientQueue(f.queueId, f.cred);
        if (!db.deleteMessage(f.queueId, f.msgId)) throw new NsekitError('PROTO_NO_MSG', 'no such message (already ACKed?)');
        this.sendFrame({ type: 'OK', corrId });
        return subs.acked(f.queueId, f.msgId);
      }
      case 'NSUB': {
        const q = this.recipientQueue(f.queueId, f.cred);
        // Idempotent: a repeated NSUB (lost answer, new token) keeps the notifier id and key.
        const notifierId = q.notifierId ?? randomId(rng, 16);
        const notifierKey = q.notifierKey ?? rng.randomBytes(32);
        const moved = db.setNotifier(f.queueId, notifierId, notifierKey, f.deviceToken, { platform: f.platform ?? null, appVersion: f.appVersion ?? null, now: clock.now() });
        log.log('info', 'push', 'notifier subscribed', { queue: truncateSecret(f.queueId), token: truncateSecret(f.deviceToken), ...(f.platform ? { platform: f.platform } : {}), ...(moved ? { moved } : {}) });
        this.sendFrame({ type: 'NID', corrId, notifierId, notifierKey: toBase64(notifierKey) });
        if (moved > 0) this.ctx.notifier.schedule(f.deviceToken);
        return;
      }
      case 'NDEL': {
        this.recipientQueue(f.queueId, f.cred);
        const dropped = db.deactivateToken(f.queueId);
        log.log('info', 'push', 'token deactivated', { queue: truncateSecret(f.queueId), dropped });
        return this.sendFrame({ type: 'OK', corrId });
      }
      case 'GNEW': {
        const g = createGroup(this.ctx, f);
        log.log('info', 'push', 'group created', { conn: this.connId, group: truncateSecret(g.groupId), members: f.members.length });
        return this.sendFrame({ type: 'GID', corrId, ...g });
      }
      case 'GSEND': {
        const res = storeGroupSend(this.ctx, f);
        const duplicate = res.results.every((p) => p.duplicate);
        const msgIds = res.results.map((p) => p.msgId);
        this.sendFrame(f.clientId === undefined ? { type: 'OK', corrId, msgIds } : { type: 'OK', corrId, msgIds, duplicate });
        return afterGroupSend(this.ctx, f, res);
      }
      case 'UNSUB':
        this.recipientQueue(f.queueId, f.cred);
        subs.unsubscribe(f.queueId, this);
        this.subscribed.delete(f.queueId);
        return this.sendFrame({ type: 'OK', corrId });
    }
  }

  private send(f: Extract<ClientFrame, { type: 'SEND' }>): void {
    const { db, subs, limits, clock, rng, notifier, dedupe } = this.ctx;
    const q = db.getQueue(f.queueId);
    if (!q || !credMatches(f.senderCred, q.senderCredHash)) throw new NsekitError('PROTO_AUTH', 'unknown queue or wrong credential');
    // The dedupe window and the notification's age run on the clock; `ts` may run a few ms ahead of it (db.nextTs).
    const now = clock.now();
    const ts = db.nextTs(now);
    const notify = f.flags.notification && q.deviceToken !== null && q.tokenActive && q.notifierKey !== null && q.notifierId !== null;
    const ntfToken = notify ? q.deviceToken! : null;
    const dd = f.clientId === undefined ? undefined : { clientId: f.clientId, now, windowMs: dedupe.windowMs, cleanupBatch: dedupe.cleanupBatch };
    const res = db.storeSend(q.queueId, limits.maxQueueMessages, dd, () => {
      const msgId = randomId(rng, 16);
      const msg = { msgId, queueId: q.queueId, ts, notification: f.flags.notification, body: fromBase64(f.body)! }; // the codec validated the body
      if (!notify) return { msg };
      const sealed = sealNotificationId(q.notifierKey!, rng, q.notifierId!, { msgId, ts });
      return { msg, ntf: { token: q.deviceToken!, queueId: q.queueId, msgId, notifierId: q.notifierId!, sealed, createdAt: now } };
    });
    if (res.duplicate) {
      this.ctx.log.log('info', 'rt', 'repeated SEND deduped', { conn: this.connId, queue: truncateSecret(q.queueId), clientId: f.clientId });
    }
    const tapped = this.ctx.sendTap?.({ connId: this.connId, queueId: q.queueId, msgId: res.msgId, duplicate: res.duplicate, ...(f.clientId !== undefined ? { clientId: f.clientId } : {}) });
    if (tapped === 'drop') {
      this.ws.terminate();
    } else {
      // Only a SEND with a clientId gets the msgId back: older clients see the OK they always did.
      this.sendFrame(f.clientId === undefined ? { type: 'OK', corrId: f.corrId } : { type: 'OK', corrId: f.corrId, msgId: res.msgId, duplicate: res.duplicate });
    }
    if (res.duplicate) return;
    subs.deliverNext(q.queueId);
    if (ntfToken !== null) notifier.schedule(ntfToken);
  }
}
