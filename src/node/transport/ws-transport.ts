import WebSocket from 'ws';
import { fromBase64, toBase64 } from '../../core/bytes.js';
import { ErrorCodes, NsekitError, type ErrorCode } from '../../core/errors.js';
import type { Clock, Host, Log, MessageFlags, RelayMessage, SendOptions, TimerHandle, Transport } from '../../core/host.js';
import { decodeServerFrame } from '../../core/protocol/codec.js';
import { DEFAULT_MAX_BODY_BYTES, type ClientFrame, type MsgFrame, type ServerFrame } from '../../core/protocol/frames.js';
import { nodeClock, silentLog, truncateSecret } from '../host.js';

export interface WsTransportOptions {
  /** Relay ws URL; may instead be given to connect(). */
  url?: string;
  /** Clock and log are taken from here unless given separately. */
  host?: Pick<Host, 'clock' | 'log'>;
  clock?: Clock;
  log?: Log;
  /** Per-request answer timeout → PROTO_TIMEOUT (default 10 s). */
  requestTimeoutMs?: number;
  /** Connect (handshake) timeout → PROTO_TIMEOUT (default 10 s). */
  connectTimeoutMs?: number;
  maxBodyBytes?: number;
}

export interface QueueCreds {
  /** For SUB/GET/ACK/NSUB/UNSUB. */
  recipientCred?: string;
  /** For SEND. */
  senderCred?: string;
}
export interface CreatedQueue {
  queueId: string;
  recipientCred: string;
  senderCred: string;
}
export interface NotifierSubscription {
  notifierId: string;
  /** 32-byte key the relay seals notification ids with (see core/protocol openNotificationId). */
  notifierKey: Uint8Array;
}
export interface CloseInfo {
  code: number;
  reason: string;
}

type Omit2<T> = T extends unknown ? Omit<T, 'corrId'> : never;
interface Pending {
  resolve(f: ServerFrame): void;
  reject(e: NsekitError): void;
  timer: TimerHandle;
}

const KNOWN_CODES = new Set<string>(Object.values(ErrorCodes));

/**
 * The relay client: one WebSocket, requests matched to answers by corrId, each
 * with its own timeout. No reconnect logic here — the app owns backoff; this
 * class reports END and close through onEnd/onClose and fails every pending
 * request with PROTO_CLOSED when the socket goes.
 */
export class WsTransport implements Transport {
  private ws: WebSocket | null = null;
  private nextCorr = 1;
  private readonly pending = new Map<string, Pending>();
  private readonly creds = new Map<string, QueueCreds>();
  private readonly subs = new Map<string, (m: RelayMessage) => void>();
  private readonly endListeners = new Set<(queueId: string) => void>();
  private readonly closeListeners = new Set<(info: CloseInfo) => void>();
  private readonly clock: Clock;
  private readonly log: Log;

  constructor(private readonly opts: WsTransportOptions = {}) {
    this.clock = opts.clock ?? opts.host?.clock ?? nodeClock;
    this.log = opts.log ?? opts.host?.log ?? silentLog;
  }

  get connected(): boolean {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  /** Opens the socket. Rejects PROTO_BUSY (relay at its connection cap), PROTO_TIMEOUT or PROTO_CLOSED. */
  async connect(url = this.opts.url): Promise<void> {
    if (!url) throw new NsekitError('PROTO_CLOSED', 'no relay url');
    if (this.ws) throw new NsekitError('PROTO_CLOSED', 'already connected; close() first');
    const ws = new WebSocket(url, { maxPayload: 2 * (this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES) + 4096 });
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      const fail = (e: NsekitError) => {
        this.clock.clearTimer(timer);
        ws.removeAllListeners();
        ws.on('error', () => undefined);
        ws.terminate();
        this.ws = null;
        reject(e);
      };
      const timer = this.clock.setTimer(this.opts.connectTimeoutMs ?? 10_000, () => fail(new NsekitError('PROTO_TIMEOUT', 'connect timed out')));
      ws.once('unexpected-response', (_req, res) => {
        const code = res.statusCode === 503 ? 'PROTO_BUSY' : 'PROTO_CLOSED';
        res.resume();
        fail(new NsekitError(code, `relay refused the connection (HTTP ${res.statusCode})`, { status: res.statusCode }));
      });
      ws.once('error', (e) => fail(new NsekitError('PROTO_CLOSED', `connect failed: ${e.message}`)));
      ws.once('open', () => {
        this.clock.clearTimer(timer);
        ws.removeAllListeners();
        this.attach(ws);
        resolve();
      });
    });
    this.log.log('info', 'rt', 'connected', { url });
  }

  private attach(ws: WebSocket): void {
    ws.on('message', (data, isBinary) => {
      if (isBinary) return this.log.log('warn', 'rt', 'binary frame from relay ignored');
      this.onFrame(data.toString());
    });
    ws.on('error', (e) => this.log.log('warn', 'rt', 'socket error', { error: e.message }));
    ws.on('close', (code, reason) => {
      if (this.ws === ws) this.ws = null;
      const info = { code, reason: reason.toString() };
      for (const [corr, p] of this.pending) {
        this.clock.clearTimer(p.timer);
        this.pending.delete(corr);
        p.reject(new NsekitError('PROTO_CLOSED', `connection closed (${code}) before the answer`, { code }));
      }
      // The relay forgets subscriptions with the connection; so do we.
      this.subs.clear();
      this.log.log('info', 'rt', 'connection closed', info);
      for (const l of [...this.closeListeners]) l(info);
    });
  }

  private onFrame(text: string): void {
    let f: ServerFrame;
    try {
      f = decodeServerFrame(text, this.opts.maxBodyBytes !== undefined ? { maxBodyBytes: this.opts.maxBodyBytes } : {});
    } catch (e) {
      this.log.log('error', 'rt', 'undecodable frame from relay', { error: String(e) });
      return;
    }
    const corrId = 'corrId' in f ? f.corrId : undefined;
    if (corrId !== undefined) {
      const p = this.pending.get(corrId);
      if (p) {
        this.pending.delete(corrId);
        this.clock.clearTimer(p.timer);
        return p.resolve(f);
      }
      return this.log.log('debug', 'rt', 'late or unknown answer dropped', { corrId, type: f.type });
    }
    if (f.type === 'MSG') return this.deliver(f);
    if (f.type === 'END') {
      this.subs.delete(f.queueId);
      this.log.log('info', 'rt', 'subscription ended by a newer subscriber', { queue: truncateSecret(f.queueId) });
      for (const l of [...this.endListeners]) l(f.queueId);
      return;
    }
    this.log.log('warn', 'rt', 'unsolicited frame', { type: f.type, code: f.type === 'ERR' ? f.code : undefined });
  }

  private deliver(f: MsgFrame): void {
    const cb = this.subs.get(f.queueId);
    if (!cb) return this.log.log('warn', 'rt', 'MSG for a queue not subscribed', { queue: truncateSecret(f.queueId) });
    try {
      cb(toRelayMessage(f));
    } catch (e) {
      this.log.log('error', 'rt', 'subscriber callback threw', { error: String(e) });
    }
  }

  private request(frame: Omit2<ClientFrame>): Promise<ServerFrame> {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return Promise.reject(new NsekitError('PROTO_CLOSED', 'not connected'));
    const corrId = `c${this.nextCorr++}`;
    return new Promise<ServerFrame>((resolve, reject) => {
      const timeoutMs = this.opts.requestTimeoutMs ?? 10_000;
      const timer = this.clock.setTimer(timeoutMs, () => {
        this.pending.delete(corrId);
        // The command may still take effect at the relay (e.g. an ACK): callers must tolerate that.
        reject(new NsekitError('PROTO_TIMEOUT', `${frame.type} unanswered after ${timeoutMs} ms`, { corrId }));
      });
      this.pending.set(corrId, {
        timer,
        reject,
        resolve: (f) => (f.type === 'ERR' ? reject(errFromWire(f.code, f.message, frame.type)) : resolve(f)),
      });
      ws.send(JSON.stringify({ ...frame, corrId }));
    });
  }

  private cred(queueId: string, kind: keyof QueueCreds): string {
    const c = this.creds.get(queueId)?.[kind];
    if (!c) throw new NsekitError('PROTO_AUTH', `no ${kind} for queue ${truncateSecret(queueId)}; call setQueueCreds`);
    return c;
  }

  setQueueCreds(queueId: string, creds: QueueCreds): void {
    this.creds.set(queueId, { ...this.creds.get(queueId), ...creds });
  }

  async createQueue(opts: { recipientKey?: Uint8Array } = {}): Promise<CreatedQueue> {
    const f = expect(await this.request(opts.recipientKey ? { type: 'NEW', recipientKey: toBase64(opts.recipientKey) } : { type: 'NEW' }), 'IDS');
    const q = { queueId: f.queueId, recipientCred: f.recipientCred, senderCred: f.senderCred };
    this.setQueueCreds(q.queueId, q);
    return q;
  }

  async get(queueId: string): Promise<RelayMessage | null> {
    try {
      return toRelayMessage(expect(await this.request({ type: 'GET', queueId, cred: this.cred(queueId, 'recipientCred') }), 'MSG'));
    } catch (e) {
      if (e instanceof NsekitError && e.code === 'PROTO_NO_MSG') return null;
      throw e;
    }
  }

  async ack(queueId: string, msgId: string): Promise<void> {
    expect(await this.request({ type: 'ACK', queueId, cred: this.cred(queueId, 'recipientCred'), msgId }), 'OK');
  }

  async subscribe(queueId: string, onMessage: (m: RelayMessage) => void): Promise<void> {
    // Registered before the answer: the relay sends OK, then MSG, in that order on this socket.
    const cred = this.cred(queueId, 'recipientCred');
    const prev = this.subs.get(queueId);
    this.subs.set(queueId, onMessage);
    try {
      expect(await this.request({ type: 'SUB', queueId, cred }), 'OK');
    } catch (e) {
      if (this.subs.get(queueId) === onMessage) prev ? this.subs.set(queueId, prev) : this.subs.delete(queueId);
      throw e;
    }
  }

  async unsubscribe(queueId: string): Promise<void> {
    this.subs.delete(queueId);
    expect(await this.request({ type: 'UNSUB', queueId, cred: this.cred(queueId, 'recipientCred') }), 'OK');
  }

  isSubscribed(queueId: string): boolean {
    return this.subs.has(queueId);
  }

  /**
   * SEND. With `opts.clientId` a resend after a lost OK is stored once by the
   * relay (the same clientId must be used for every attempt of one message).
   */
  async send(queueId: string, body: Uint8Array, flags: MessageFlags, opts: SendOptions = {}): Promise<void> {
    await this.sendWithResult(queueId, body, flags, opts);
  }

  /** As send(), plus what the relay answered: the stored msgId and whether this SEND repeated one (only with a clientId). */
  async sendWithResult(queueId: string, body: Uint8Array, flags: MessageFlags, opts: SendOptions = {}): Promise<{ msgId?: string; duplicate: boolean }> {
    const frame = {
      type: 'SEND',
      queueId,
      senderCred: this.cred(queueId, 'senderCred'),
      body: toBase64(body),
      flags: { notification: flags.notification },
      ...(opts.clientId !== undefined ? { clientId: opts.clientId } : {}),
    } as const;
    const ok = expect(await this.request(frame), 'OK');
    return { ...(ok.msgId !== undefined ? { msgId: ok.msgId } : {}), duplicate: ok.duplicate === true };
  }

  /** Register (or re-register) the push token for `queueId`; `meta` is recorded with it (docs/protocol.md "Push tokens"). */
  async nsub(queueId: string, deviceToken: string, meta: { platform?: string; appVersion?: string } = {}): Promise<NotifierSubscription> {
    const extra = { ...(meta.platform !== undefined ? { platform: meta.platform } : {}), ...(meta.appVersion !== undefined ? { appVersion: meta.appVersion } : {}) };
    const f = expect(await this.request({ type: 'NSUB', queueId, cred: this.cred(queueId, 'recipientCred'), deviceToken, ...extra }), 'NID');
    return { notifierId: f.notifierId, notifierKey: fromBase64(f.notifierKey)! };
  }

  /** GNEW: a fan-out group over queues this client may send to (docs/protocol.md "Fan-out to a user's devices"). */
  async createGroup(members: { queueId: string; senderCred?: string }[]): Promise<{ groupId: string; groupCred: string }> {
    const f = expect(await this.request({ type: 'GNEW', members: members.map((m) => ({ queueId: m.queueId, senderCred: m.senderCred ?? this.cred(m.queueId, 'senderCred') })) }), 'GID');
    return { groupId: f.groupId, groupCred: f.groupCred };
  }

  /** GSEND: one message into every member queue in one relay transaction; `parts` holds each member's sealed body. */
  async groupSend(group: { groupId: string; groupCred: string }, parts: { queueId: string; body: Uint8Array }[], flags: MessageFlags, opts: SendOptions = {}): Promise<{ duplicate: boolean; msgIds: string[] }> {
    const ok = expect(
      await this.request({
        type: 'GSEND',
        groupId: group.groupId,
        groupCred: group.groupCred,
        flags: { notification: flags.notification },
        parts: parts.map((p) => ({ queueId: p.queueId, body: toBase64(p.body) })),
        ...(opts.clientId !== undefined ? { clientId: opts.clientId } : {}),
      }),
      'OK',
    );
    return { duplicate: ok.duplicate === true, msgIds: ok.msgIds ?? [] };
  }

  /** Deactivate the queue's push token (logout): the relay stops pushing for it until the next NSUB. */
  async ndel(queueId: string): Promise<void> {
    expect(await this.request({ type: 'NDEL', queueId, cred: this.cred(queueId, 'recipientCred') }), 'OK');
  }

  async ping(): Promise<void> {
    expect(await this.request({ type: 'PING' }), 'PONG');
  }

  /** A newer subscriber took `queueId` (END). Returns an unsubscribe function. */
  onEnd(fn: (queueId: string) => void): () => void {
    this.endListeners.add(fn);
    return () => this.endListeners.delete(fn);
  }

  /** The socket closed (by either side); pending requests have been failed with PROTO_CLOSED. */
  onClose(fn: (info: CloseInfo) => void): () => void {
    this.closeListeners.add(fn);
    return () => this.closeListeners.delete(fn);
  }

  async close(): Promise<void> {
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((resolve) => {
      ws.once('close', () => resolve());
      // Real timer: shutdown must finish even when the injected clock is simulated.
      const t = setTimeout(() => ws.terminate(), 1000);
      ws.once('close', () => clearTimeout(t));
      ws.close(1000, 'client closing');
    });
  }
}

function expect<T extends ServerFrame['type']>(f: ServerFrame, type: T): Extract<ServerFrame, { type: T }> {
  if (f.type !== type) throw new NsekitError('PROTO_MALFORMED', `expected ${type}, relay answered ${f.type}`);
  return f as Extract<ServerFrame, { type: T }>;
}

function errFromWire(code: string, message: string | undefined, cmd: string): NsekitError {
  const known = KNOWN_CODES.has(code) ? (code as ErrorCode) : 'PROTO_INTERNAL';
  return new NsekitError(known, `relay refused ${cmd}: ${message ?? code}`, { wireCode: code });
}

function toRelayMessage(f: MsgFrame): RelayMessage {
  return { msgId: f.msgId, queueId: f.queueId, ts: f.ts, flags: { notification: f.flags.notification }, body: fromBase64(f.body)! };
}
