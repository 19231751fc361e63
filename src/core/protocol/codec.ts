import { fromBase64 } from '../bytes.js';
import { NsekitError } from '../errors.js';
import {
  CLIENT_COMMANDS,
  DEFAULT_MAX_BODY_BYTES,
  FIELD_LIMITS,
  SERVER_FRAMES,
  type ClientFrame,
  type NsubCmd,
  type Frame,
  type ServerFrame,
  type WireFlags,
} from './frames.js';

/**
 * Strict decoding of relay frames. Every field is type-, length- and
 * charset-checked; anything off is an NsekitError (PROTO_MALFORMED,
 * PROTO_UNKNOWN_COMMAND, PROTO_TOO_LARGE) whose details carry the `corrId`
 * when it could be read, so the relay can still echo it in its ERR.
 * Unknown extra fields are ignored (forward compatibility).
 */

export interface DecodeOptions {
  /** Largest decoded body in bytes; bigger → PROTO_TOO_LARGE. */
  maxBodyBytes?: number;
}

const ID_RE = /^[A-Za-z0-9_-]+$/;
const TOKEN_RE = /^[A-Za-z0-9_.:-]+$/;
const PLATFORM_RE = /^[a-z0-9]+$/;
const VERSION_RE = /^[A-Za-z0-9._+-]+$/;
const CORR_RE = /^[\x21-\x7e]+$/;
const CODE_RE = /^[A-Z][A-Z0-9_]*$/;

/** A valid SEND `clientId`: 1..64 characters of [A-Za-z0-9_-]. */
export function isClientId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= FIELD_LIMITS.clientId && ID_RE.test(v);
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(
    private readonly o: Obj,
    readonly corrId: string | undefined,
  ) {}

  fail(field: string, why: string): never {
    const details: Record<string, unknown> = { field };
    if (this.corrId !== undefined) details.corrId = this.corrId;
    throw new NsekitError('PROTO_MALFORMED', `${field}: ${why}`, details);
  }

  str(field: string, max: number, re: RegExp): string {
    const v = this.o[field];
    if (typeof v !== 'string') this.fail(field, 'missing or not a string');
    if (v.length === 0 || v.length > max) this.fail(field, `length must be 1..${max}`);
    if (!re.test(v)) this.fail(field, 'invalid characters');
    return v;
  }

  optStr(field: string, max: number, re: RegExp): string | undefined {
    return this.o[field] === undefined ? undefined : this.str(field, max, re);
  }

  /** Strict base64; `exact` demands that many decoded bytes, `max` caps them. */
  b64(field: string, opts: { exact?: number; max?: number; allowEmpty?: boolean }): string {
    const v = this.o[field];
    if (typeof v !== 'string') this.fail(field, 'missing or not a string');
    if (!opts.allowEmpty && v.length === 0) this.fail(field, 'empty');
    // Reject before decoding so an oversized body costs no allocation.
    if (opts.max !== undefined && v.length > Math.ceil(opts.max / 3) * 4) this.tooLarge(field, opts.max);
    const bytes = fromBase64(v);
    if (bytes === null) this.fail(field, 'not valid base64');
    if (opts.exact !== undefined && bytes.length !== opts.exact) this.fail(field, `must be ${opts.exact} bytes`);
    if (opts.max !== undefined && bytes.length > opts.max) this.tooLarge(field, opts.max);
    return v;
  }

  private tooLarge(field: string, max: number): never {
    const details: Record<string, unknown> = { field, maxBytes: max };
    if (this.corrId !== undefined) details.corrId = this.corrId;
    throw new NsekitError('PROTO_TOO_LARGE', `${field} larger than ${max} bytes`, details);
  }

  flags(): WireFlags {
    const f = this.o.flags;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) this.fail('flags', 'missing or not an object');
    const n = (f as Obj).notification;
    if (typeof n !== 'boolean') this.fail('flags.notification', 'missing or not a boolean');
    return { notification: n };
  }

  /** A non-empty array of at most `max` objects, each read by `item` (a Reader over it; fields named `field[i].x`). */
  list<T>(field: string, max: number, item: (r: Reader, at: string) => T): T[] {
    const v = this.o[field];
    if (!Array.isArray(v)) this.fail(field, 'missing or not an array');
    if (v.length === 0 || v.length > max) this.fail(field, `length must be 1..${max}`);
    return v.map((x: unknown, i) => {
      const at = `${field}[${i}]`;
      if (typeof x !== 'object' || x === null || Array.isArray(x)) this.fail(at, 'not an object');
      return item(new Reader(x as Obj, this.corrId), at);
    });
  }

  ts(): number {
    const v = this.o.ts;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail('ts', 'not a non-negative integer');
    return v;
  }
}

function parseObject(text: unknown): Obj {
  if (typeof text !== 'string') throw new NsekitError('PROTO_MALFORMED', 'frame is not text (binary frames are not part of the protocol)');
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new NsekitError('PROTO_MALFORMED', 'frame is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new NsekitError('PROTO_MALFORMED', 'frame is not a JSON object');
  return v as Obj;
}

function readerFor(o: Obj): Reader {
  // Read corrId leniently first so even a malformed frame's ERR can be correlated.
  const c = o.corrId;
  const corrId = typeof c === 'string' && c.length > 0 && c.length <= FIELD_LIMITS.corrId && CORR_RE.test(c) ? c : undefined;
  return new Reader(o, corrId);
}

function typeOf(o: Obj, r: Reader, known: readonly string[]): string {
  const t = o.type;
  if (typeof t !== 'string') r.fail('type', 'missing or not a string');
  if (!known.includes(t)) {
    const details: Record<string, unknown> = { type: t.slice(0, 16) };
    if (r.corrId !== undefined) details.corrId = r.corrId;
    throw new NsekitError('PROTO_UNKNOWN_COMMAND', `unknown frame type ${JSON.stringify(t.slice(0, 16))}`, details);
  }
  return t;
}

export function decodeClientFrame(text: unknown, opts: DecodeOptions = {}): ClientFrame {
  const o = parseObject(text);
  const r = readerFor(o);
  const type = typeOf(o, r, CLIENT_COMMANDS);
  const corrId = r.str('corrId', FIELD_LIMITS.corrId, CORR_RE);
  const queue = () => r.str('queueId', FIELD_LIMITS.id, ID_RE);
  const cred = (f = 'cred') => r.str(f, FIELD_LIMITS.cred, ID_RE);
  switch (type) {
    case 'NEW': {
      const recipientKey = o.recipientKey === undefined ? undefined : r.b64('recipientKey', { exact: 32 });
      return recipientKey === undefined ? { type, corrId } : { type, corrId, recipientKey };
    }
    case 'SEND': {
      const queueId = queue();
      const senderCred = cred('senderCred');
      const body = r.b64('body', { max: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, allowEmpty: true });
      const flags = r.flags();
      const clientId = r.optStr('clientId', FIELD_LIMITS.clientId, ID_RE);
      return clientId === undefined ? { type, corrId, queueId, senderCred, body, flags } : { type, corrId, queueId, senderCred, body, flags, clientId };
    }
    case 'SUB':
    case 'GET':
    case 'UNSUB':
      return { type, corrId, queueId: queue(), cred: cred() };
    case 'ACK':
      return { type, corrId, queueId: queue(), cred: cred(), msgId: r.str('msgId', FIELD_LIMITS.id, ID_RE) };
    case 'NSUB': {
      const f: NsubCmd = { type, corrId, queueId: queue(), cred: cred(), deviceToken: r.str('deviceToken', FIELD_LIMITS.deviceToken, TOKEN_RE) };
      const platform = r.optStr('platform', FIELD_LIMITS.platform, PLATFORM_RE);
      const appVersion = r.optStr('appVersion', FIELD_LIMITS.appVersion, VERSION_RE);
      if (platform !== undefined) f.platform = platform;
      if (appVersion !== undefined) f.appVersion = appVersion;
      return f;
    }
    case 'NDEL':
      return { type, corrId, queueId: queue(), cred: cred() };
    case 'GNEW': {
      const members = r.list('members', FIELD_LIMITS.groupMembers, (m) => ({ queueId: m.str('queueId', FIELD_LIMITS.id, ID_RE), senderCred: m.str('senderCred', FIELD_LIMITS.cred, ID_RE) }));
      if (new Set(members.map((m) => m.queueId)).size !== members.length) r.fail('members', 'a queue is named twice');
      return { type, corrId, members };
    }
    case 'GSEND': {
      const groupId = r.str('groupId', FIELD_LIMITS.id, ID_RE);
      const groupCred = cred('groupCred');
      const flags = r.flags();
      const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
      const parts = r.list('parts', FIELD_LIMITS.groupMembers, (p) => ({ queueId: p.str('queueId', FIELD_LIMITS.id, ID_RE), body: p.b64('body', { max, allowEmpty: true }) }));
      if (new Set(parts.map((p) => p.queueId)).size !== parts.length) r.fail('parts', 'a queue is named twice');
      const clientId = r.optStr('clientId', FIELD_LIMITS.clientId, ID_RE);
      return clientId === undefined ? { type, corrId, groupId, groupCred, flags, parts } : { type, corrId, groupId, groupCred, flags, parts, clientId };
    }
    default:
      return { type: 'PING', corrId };
  }
}

export function decodeServerFrame(text: unknown, opts: DecodeOptions = {}): ServerFrame {
  const o = parseObject(text);
  const r = readerFor(o);
  const type = typeOf(o, r, SERVER_FRAMES);
  const corr = () => r.str('corrId', FIELD_LIMITS.corrId, CORR_RE);
  const id = (f: string) => r.str(f, FIELD_LIMITS.id, ID_RE);
  switch (type) {
    case 'IDS':
      return {
        type,
        corrId: corr(),
        queueId: id('queueId'),
        recipientCred: r.str('recipientCred', FIELD_LIMITS.cred, ID_RE),
        senderCred: r.str('senderCred', FIELD_LIMITS.cred, ID_RE),
      };
    case 'GID':
      return { type, corrId: corr(), groupId: id('groupId'), groupCred: r.str('groupCred', FIELD_LIMITS.cred, ID_RE) };
    case 'NID':
      return { type, corrId: corr(), notifierId: id('notifierId'), notifierKey: r.b64('notifierKey', { exact: 32 }) };
    case 'OK': {
      const ok: ServerFrame = { type, corrId: corr() };
      const msgId = r.optStr('msgId', FIELD_LIMITS.id, ID_RE);
      if (msgId !== undefined) ok.msgId = msgId;
      const dup = o.duplicate;
      if (typeof dup === 'boolean') ok.duplicate = dup;
      else if (dup !== undefined) r.fail('duplicate', 'not a boolean');
      const ids = o.msgIds;
      if (ids !== undefined) {
        if (!Array.isArray(ids) || ids.length === 0 || ids.length > FIELD_LIMITS.groupMembers) r.fail('msgIds', `not an array of 1..${FIELD_LIMITS.groupMembers} ids`);
        ok.msgIds = (ids as unknown[]).map((v: unknown, i: number) => (typeof v === 'string' && v.length > 0 && v.length <= FIELD_LIMITS.id && ID_RE.test(v) ? v : r.fail(`msgIds[${i}]`, 'not an id')));
      }
      return ok;
    }
    case 'PONG':
      return { type, corrId: corr() };
    case 'MSG': {
      const corrId = r.optStr('corrId', FIELD_LIMITS.corrId, CORR_RE);
      const m = {
        type,
        queueId: id('queueId'),
        msgId: id('msgId'),
        ts: r.ts(),
        flags: r.flags(),
        body: r.b64('body', { max: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, allowEmpty: true }),
      } as const;
      return corrId === undefined ? m : { ...m, corrId };
    }
    case 'ERR': {
      const corrId = r.optStr('corrId', FIELD_LIMITS.corrId, CORR_RE);
      const code = r.str('code', FIELD_LIMITS.errCode, CODE_RE);
      const message = o.message === undefined ? undefined : r.str('message', FIELD_LIMITS.errMessage, /^[^]*$/);
      const e: ServerFrame = { type, code };
      if (corrId !== undefined) e.corrId = corrId;
      if (message !== undefined) e.message = message;
      return e;
    }
    default:
      return { type: 'END', queueId: id('queueId') };
  }
}

/** Serialize one frame. Frames built from the types above are always valid JSON objects. */
export function encodeFrame(frame: Frame): string {
  return JSON.stringify(frame);
}
