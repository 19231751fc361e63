import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8Encode } from '../bytes.js';
import { NsekitError } from '../errors.js';

/** Purposes a subkey is derived for; one key per purpose so a leak of one is contained. */
export type KeyPurpose = 'body' | 'inbox' | 'notification' | 'keycheck' | 'outbox';

const SALT = utf8Encode('nsekit/v1/hkdf-salt');

const PURPOSES: readonly KeyPurpose[] = ['body', 'inbox', 'notification', 'keycheck', 'outbox'];

function checkMaster(master: Uint8Array): void {
  if (!(master instanceof Uint8Array) || master.length !== 32) {
    throw new NsekitError('CRYPTO_BAD_KEY', `master key must be 32 bytes, got ${master?.length}`);
  }
}

/** HKDF-SHA256(master, salt, "nsekit/v1/<purpose>") → 32 bytes. */
export function deriveKey(master: Uint8Array, purpose: KeyPurpose): Uint8Array {
  return deriveKeys(master, [purpose])[purpose]!;
}

/**
 * Several subkeys from one HKDF-Extract (it depends only on master and salt);
 * each is then one Expand. Same bytes as separate deriveKey calls, about half
 * the HMACs — it sits on the NSE's cold path (unlock right after launch).
 */
function deriveKeys(master: Uint8Array, purposes: readonly KeyPurpose[]): Partial<Record<KeyPurpose, Uint8Array>> {
  checkMaster(master);
  const prk = extract(sha256, master, SALT);
  const out: Partial<Record<KeyPurpose, Uint8Array>> = {};
  for (const p of purposes) out[p] = expand(sha256, prk, utf8Encode(`nsekit/v1/${p}`), 32);
  prk.fill(0);
  return out;
}

export interface KeyRing {
  body: Uint8Array;
  inbox: Uint8Array;
  notification: Uint8Array;
  keycheck: Uint8Array;
  outbox: Uint8Array;
}

export function deriveKeyRing(master: Uint8Array): KeyRing {
  return deriveKeys(master, PURPOSES) as KeyRing;
}

/** Overwrite key material we no longer need (best effort: JS may have copies). */
export function wipe(...keys: Uint8Array[]): void {
  for (const k of keys) k.fill(0);
}
