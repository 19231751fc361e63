/**
 * The callback-style BridgeHost (what Swift implements) as the core's Host
 * services (clock, randomness, log), plus the plumbing every port uses: one
 * settle per host call, host errors ↔ NsekitError, wire shapes ↔ core shapes.
 */
import { fromBase64, fromHex, toBase64 } from '../bytes.js';
import { ErrorCodes, NsekitError, type ErrorCode } from '../errors.js';
import type { Clock, Host, Log, LogLevel, RelayMessage, Rng, StoredMessage, TimerHandle } from '../host.js';
import { noFailpoints } from '../host.js';
import type { BridgeError, BridgeHostBase, Done, WireRelayMessage, WireStoredMessage } from './contract.js';

const KNOWN = new Set<string>(Object.values(ErrorCodes));

export function bad(what: string, details?: Record<string, unknown>): NsekitError {
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
export function call<T>(host: BridgeHostBase, fn: string, invoke: (done: Done<T>) => void): Promise<T> {
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

export function expectBool(fn: string, v: unknown): boolean {
  if (typeof v !== 'boolean') throw bad(`${fn} must answer a boolean, got ${typeof v}`);
  return v;
}

function bridgeClock(h: BridgeHostBase): Clock {
  return {
    now: () => h.now(),
    setTimer: (ms, fn) => h.setTimer(Math.max(0, Math.ceil(ms)), fn),
    clearTimer: (t: TimerHandle) => h.clearTimer(t as number),
  };
}

function bridgeRng(h: BridgeHostBase): Rng {
  return {
    randomBytes(n) {
      const b = fromHex(String(h.randomHex(n)));
      if (!b || b.length !== n) throw bad(`randomHex(${n}) returned ${b ? b.length : 'non-hex'} bytes`);
      return b;
    },
  };
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Field names whose values never cross (the sessions log e.g. a key's first characters). */
const SECRET_FIELD = /key|token|secret|cred/i;

/**
 * Fields as one JSON string; byte arrays and secret-named fields never cross (the contract
 * promises the host no keys in its logs). Below `min` nothing crosses.
 */
function bridgeLog(h: BridgeHostBase, min: LogLevel): Log {
  const floor = LEVELS[min] ?? 20;
  return {
    log(level: LogLevel, tag, msg, fields) {
      if ((LEVELS[level] ?? 40) < floor) return;
      let f = '{}';
      if (fields) {
        try {
          f = JSON.stringify(fields, (k, v: unknown) =>
            v instanceof Uint8Array ? `<${v.length} bytes>` : k && typeof v === 'string' && SECRET_FIELD.test(k) ? '<redacted>' : v,
          );
        } catch {
          f = '{"fields":"unserializable"}';
        }
      }
      h.log(level, tag, msg, f);
    },
  };
}

export function bridgeHostServices(h: BridgeHostBase, minLog: LogLevel = 'info'): Host {
  return { clock: bridgeClock(h), rng: bridgeRng(h), log: bridgeLog(h, minLog), failpoints: noFailpoints };
}

/**
 * A relay message from the host (GET answer or SUB delivery) → the core's shape; malformed → BRIDGE_HOST_ERROR.
 * `notification` absent counts as true, as senders default it (host-contract.md `transportGet`): a host
 * that drops the flag shows a silent message rather than hiding a real one.
 */
export function decodeRelayMessage(fn: string, w: WireRelayMessage | null | undefined, queueId: string): RelayMessage | null {
  if (w === null || w === undefined) return null;
  if (typeof w !== 'object' || typeof w.msgId !== 'string' || !w.msgId || typeof w.body !== 'string') {
    throw bad(`${fn} returned a malformed message`, { queueId });
  }
  const body = fromBase64(w.body);
  if (!body) throw bad(`${fn} returned a body that is not base64`, { queueId, msgId: w.msgId });
  if (w.queueId !== queueId) throw bad(`${fn} returned a message of another queue`, { queueId, got: w.queueId });
  return { msgId: w.msgId, queueId, ts: Number(w.ts) || 0, flags: { notification: w.notification !== false }, body };
}

export function toWireStored(m: StoredMessage): WireStoredMessage {
  return { msgId: m.msgId, queueId: m.queueId, ts: m.ts, notification: m.flags.notification, sealed: toBase64(m.sealed) };
}
