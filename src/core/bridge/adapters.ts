/**
 * Adapts the callback-style BridgeHost (what Swift implements) to the core's
 * promise-based Host/Transport/Store/PendingInbox interfaces.
 */
import { fromBase64, fromHex, toBase64 } from '../bytes.js';
import { ErrorCodes, NsekitError, type ErrorCode } from '../errors.js';
import type {
  Clock,
  Gate,
  Host,
  Log,
  LogLevel,
  PendingInbox,
  RelayMessage,
  Rng,
  Store,
  StoredMessage,
  TimerHandle,
  Transport,
} from '../host.js';
import { noFailpoints } from '../host.js';
import type { BridgeError, BridgeHost, Done, WireRelayMessage, WireStoredMessage } from './contract.js';
import { Mutex } from './mutex.js';

const KNOWN = new Set<string>(Object.values(ErrorCodes));

function bad(what: string, details?: Record<string, unknown>): NsekitError {
  return new NsekitError('BRIDGE_HOST_ERROR', what, details);
}

/** A host error object → NsekitError, keeping the host's code when it is one of ours. */
export function fromBridgeError(fn: string, e: unknown): NsekitError {
  const be = e as Partial<BridgeError> | null;
  const code = be && typeof be.code === 'string' && KNOWN.has(be.code) ? (be.code as ErrorCode) : 'BRIDGE_HOST_ERROR';
  const message = be && typeof be.message === 'string' ? be.message : String(e);
  return new NsekitError(code, `${fn}: ${message}`, { fn, hostCode: be?.code ?? null });
}

/** NsekitError (or anything) → the `{code, message}` shape the host sees. */
export function toBridgeError(e: unknown): BridgeError {
  if (e instanceof NsekitError) return { code: e.code, message: e.message };
  return { code: 'BRIDGE_HOST_ERROR', message: e instanceof Error ? e.message : String(e) };
}

/** Call an async host function; settle once even if the host calls back twice (the extra call is logged). */
export function call<T>(host: BridgeHost, fn: string, invoke: (done: Done<T>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const done: Done<T> = (err, result) => {
      if (settled) {
        host.log('error', 'rt', 'host called back twice', JSON.stringify({ fn }));
        return;
      }
      settled = true;
      if (err !== null && err !== undefined) reject(fromBridgeError(fn, err));
      else resolve(result as T);
    };
    try {
      invoke(done);
    } catch (e) {
      if (!settled) {
        settled = true;
        reject(fromBridgeError(fn, e));
      }
    }
  });
}

export function bridgeClock(h: BridgeHost): Clock {
  return {
    now: () => h.now(),
    setTimer: (ms, fn) => h.setTimer(Math.max(0, Math.ceil(ms)), fn),
    clearTimer: (t: TimerHandle) => h.clearTimer(t as number),
  };
}

export function bridgeRng(h: BridgeHost): Rng {
  return {
    randomBytes(n) {
      const b = fromHex(String(h.randomHex(n)));
      if (!b || b.length !== n) throw bad(`randomHex(${n}) returned ${b ? b.length : 'non-hex'} bytes`);
      return b;
    },
  };
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Fields as one JSON string; byte arrays never cross (they may be secrets). Below `min` nothing crosses. */
export function bridgeLog(h: BridgeHost, min: LogLevel = 'info'): Log {
  const floor = LEVELS[min] ?? 20;
  return {
    log(level: LogLevel, tag, msg, fields) {
      if ((LEVELS[level] ?? 40) < floor) return;
      let f = '{}';
      if (fields) {
        try {
          f = JSON.stringify(fields, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v));
        } catch {
          f = '{"fields":"unserializable"}';
        }
      }
      h.log(level, tag, msg, f);
    },
  };
}

export function bridgeHostServices(h: BridgeHost, minLog: LogLevel = 'info'): Host {
  return { clock: bridgeClock(h), rng: bridgeRng(h), log: bridgeLog(h, minLog), failpoints: noFailpoints };
}

function decodeRelayMessage(w: WireRelayMessage | null | undefined, queueId: string): RelayMessage | null {
  if (w === null || w === undefined) return null;
  if (typeof w !== 'object' || typeof w.msgId !== 'string' || !w.msgId || typeof w.body !== 'string') {
    throw bad('transportGet returned a malformed message', { queueId });
  }
  const body = fromBase64(w.body);
  if (!body) throw bad('transportGet returned a body that is not base64', { queueId, msgId: w.msgId });
  if (w.queueId !== queueId) throw bad('transportGet returned a message of another queue', { queueId, got: w.queueId });
  return { msgId: w.msgId, queueId, ts: Number(w.ts) || 0, flags: { notification: w.notification === true }, body };
}

/** GET/ACK through the host. SUB/SEND are app-side features the bridge does not expose (yet). */
export function bridgeTransport(h: BridgeHost): Transport {
  const unsupported = (what: string) =>
    Promise.reject(new NsekitError('BRIDGE_BAD_INPUT', `${what} is not part of the bridge host contract`));
  return {
    get: async (queueId) =>
      decodeRelayMessage(await call<WireRelayMessage | null>(h, 'transportGet', (d) => h.transportGet(queueId, d)), queueId),
    ack: async (queueId, msgId) => {
      await call<null>(h, 'transportAck', (d) => h.transportAck(queueId, msgId, d));
    },
    subscribe: () => unsupported('subscribe'),
    unsubscribe: () => unsupported('unsubscribe'),
    send: () => unsupported('send'),
  };
}

export function toWireStored(m: StoredMessage): WireStoredMessage {
  return { msgId: m.msgId, queueId: m.queueId, ts: m.ts, notification: m.flags.notification, sealed: toBase64(m.sealed) };
}

function expectBool(fn: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw bad(`${fn} must answer a boolean, got ${typeof v}`);
  return v;
}

/**
 * The shared store: each write takes the cross-process lock inside the
 * database gate, so suspension drains it and no write starts while suspended.
 */
export class BridgeStore implements Store {
  private readonly mutex = new Mutex();
  constructor(
    private readonly h: BridgeHost,
    private readonly gate: Gate,
    private readonly opts: { lockTimeoutMs: number; gateTimeoutMs: number },
  ) {}

  private write<T>(fn: string, invoke: (d: Done<T>) => void, wroteIf: (r: T) => boolean): Promise<T> {
    return this.gate.run(
      'database',
      () => this.mutex.run(async () => {
        await call(this.h, 'lockAcquire', (d) => this.h.lockAcquire(this.opts.lockTimeoutMs, d));
        let wrote = false;
        try {
          const r = await call<T>(this.h, fn, invoke);
          wrote = wroteIf(r);
          return r;
        } finally {
          await call(this.h, 'lockRelease', (d) => this.h.lockRelease(wrote, d));
        }
      }),
      { timeoutMs: this.opts.gateTimeoutMs },
    );
  }

  async putMessage(m: StoredMessage): Promise<boolean> {
    const w = toWireStored(m);
    return this.write('storePut', (d) => this.h.storePut(w, d), (r) => expectBool('storePut', r));
  }
  async markNotified(msgId: string): Promise<boolean> {
    return this.write('storeMarkNotified', (d) => this.h.storeMarkNotified(msgId, d), (r) => expectBool('storeMarkNotified', r));
  }
  /** Not used by the inbound pipeline; kept off the host contract to keep it small. */
  hasMessage(): Promise<boolean> {
    return Promise.reject(new NsekitError('BRIDGE_BAD_INPUT', 'hasMessage is not part of the bridge host contract'));
  }
  /** storeClose after any write in progress (writes and close share the mutex). */
  closeSerialized(): Promise<null> {
    return this.mutex.run(() => call<null>(this.h, 'storeClose', (d) => this.h.storeClose(d)));
  }
}

/**
 * Device-locked fallback: the relay body goes to the host's append-only file untouched. Every inbox
 * call (an open file with a flock in the app group) runs in the database class, so suspension
 * drains it like a store write and none starts while suspended.
 */
export function bridgeInbox(h: BridgeHost, gate: Gate, gateTimeoutMs: number): PendingInbox {
  const db = <T>(fn: string, invoke: (d: Done<T>) => void) =>
    gate.run('database', () => call<T>(h, fn, invoke), { timeoutMs: gateTimeoutMs });
  return {
    append: async (m) => {
      const w = toWireStored(m);
      await db<null>('inboxAppend', (d) => h.inboxAppend(w, d));
    },
    markNotified: async (msgId, queueId) =>
      expectBool('inboxMarkNotified', await db('inboxMarkNotified', (d) => h.inboxMarkNotified(msgId, queueId, d))),
    isNotified: async (msgId) => expectBool('inboxIsNotified', await db('inboxIsNotified', (d) => h.inboxIsNotified(msgId, d))),
  };
}
