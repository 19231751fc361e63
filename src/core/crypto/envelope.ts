import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { utf8Encode } from '../bytes.js';
import { NsekitError } from '../errors.js';
import type { Rng } from '../host.js';

/**
 * Sealed envelope, format v1:
 *
 *   0  2  magic "NK" (0x4e 0x4b)
 *   2  1  version (1)
 *   3  1  kind (EnvelopeKind)
 *   4 24  nonce (random, from the host Rng)
 *  28  n  XChaCha20-Poly1305 ciphertext, 16-byte tag last
 *
 * AAD = the 28 header bytes || u16be(len) recordId || u16be(len) queueId, so a
 * sealed row moved to another id/queue (or another kind) fails to open.
 */
export const ENVELOPE_VERSION = 1;
export const HEADER_LEN = 28;
export const TAG_LEN = 16;
export const NONCE_LEN = 24;

export const EnvelopeKind = {
  messageBody: 1,
  inboxRecord: 2,
  notificationId: 3,
  outboxBody: 4,
  keyCheck: 5,
  /** Sender → recipient end-to-end message body (the relay message body). */
  e2eBody: 6,
} as const;
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];
const KINDS = new Set<number>(Object.values(EnvelopeKind));

export interface EnvelopeBinding {
  kind: EnvelopeKind;
  /** The record this envelope belongs to (message id, outbox id, …). */
  recordId: string;
  /** The queue it belongs to ("" when not queue-bound). */
  queueId: string;
}

/** header || u16be(len) recordId || u16be(len) queueId, built in one buffer. */
export function envelopeAad(header: Uint8Array, binding: EnvelopeBinding): Uint8Array {
  const r = utf8Encode(binding.recordId);
  const q = utf8Encode(binding.queueId);
  if (r.length > 0xffff || q.length > 0xffff) throw new NsekitError('CRYPTO_BAD_KEY', 'binding field longer than 65535 bytes');
  const out = new Uint8Array(header.length + 4 + r.length + q.length);
  out.set(header, 0);
  let o = header.length;
  out[o++] = r.length >> 8;
  out[o++] = r.length & 255;
  out.set(r, o);
  o += r.length;
  out[o++] = q.length >> 8;
  out[o++] = q.length & 255;
  out.set(q, o);
  return out;
}

function checkKey(key: Uint8Array): void {
  if (!(key instanceof Uint8Array) || key.length !== 32) {
    throw new NsekitError('CRYPTO_BAD_KEY', `envelope key must be 32 bytes, got ${key?.length}`);
  }
}

export function seal(key: Uint8Array, rng: Rng, binding: EnvelopeBinding, plaintext: Uint8Array): Uint8Array {
  checkKey(key);
  // Refuse at seal time: an unknown kind would produce an envelope no one can open.
  if (!KINDS.has(binding.kind)) throw new NsekitError('CRYPTO_BAD_VERSION', `unknown envelope kind ${binding.kind}`);
  const nonce = rng.randomBytes(NONCE_LEN);
  if (nonce.length !== NONCE_LEN) throw new NsekitError('CRYPTO_BAD_KEY', 'host Rng returned a short nonce');
  // One allocation: the header, then the ciphertext written in place behind it (ingest hot path).
  const out = new Uint8Array(HEADER_LEN + plaintext.length + TAG_LEN);
  out[0] = 0x4e;
  out[1] = 0x4b;
  out[2] = ENVELOPE_VERSION;
  out[3] = binding.kind;
  out.set(nonce, 4);
  const header = out.subarray(0, HEADER_LEN);
  xchacha20poly1305(key, nonce, envelopeAad(header, binding)).encrypt(plaintext, out.subarray(HEADER_LEN));
  return out;
}

/** Reads the header without decrypting (for routing and error reporting). */
export function envelopeKind(sealed: Uint8Array): EnvelopeKind {
  if (sealed.length < HEADER_LEN + TAG_LEN) {
    throw new NsekitError('CRYPTO_TRUNCATED', `envelope is ${sealed.length} bytes, minimum ${HEADER_LEN + TAG_LEN}`);
  }
  if (sealed[0] !== 0x4e || sealed[1] !== 0x4b) throw new NsekitError('CRYPTO_BAD_VERSION', 'bad envelope magic');
  if (sealed[2] !== ENVELOPE_VERSION) {
    throw new NsekitError('CRYPTO_BAD_VERSION', `unsupported envelope version ${sealed[2]}`);
  }
  if (!KINDS.has(sealed[3]!)) throw new NsekitError('CRYPTO_BAD_VERSION', `unknown envelope kind ${sealed[3]}`);
  return sealed[3] as EnvelopeKind;
}

export function open(key: Uint8Array, binding: EnvelopeBinding, sealed: Uint8Array): Uint8Array {
  checkKey(key);
  const kind = envelopeKind(sealed);
  if (kind !== binding.kind) {
    throw new NsekitError('CRYPTO_AUTH_FAILED', `envelope kind ${kind} where ${binding.kind} expected`);
  }
  const header = sealed.subarray(0, HEADER_LEN);
  const nonce = sealed.subarray(4, HEADER_LEN);
  try {
    return xchacha20poly1305(key, nonce, envelopeAad(header, binding)).decrypt(sealed.subarray(HEADER_LEN));
  } catch {
    throw new NsekitError('CRYPTO_AUTH_FAILED', 'envelope failed authentication (wrong key, tampered, or moved)', {
      recordId: binding.recordId,
      queueId: binding.queueId,
    });
  }
}
