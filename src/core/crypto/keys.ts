import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { utf8Encode } from '../bytes.js';
import { NsekitError } from '../errors.js';

/** Purposes a subkey is derived for; one key per purpose so a leak of one is contained. */
export type KeyPurpose = 'body' | 'inbox' | 'notification' | 'keycheck' | 'outbox';

const SALT = utf8Encode('nsekit/v1/hkdf-salt');

/** HKDF-SHA256(master, salt, "nsekit/v1/<purpose>") → 32 bytes. */
export function deriveKey(master: Uint8Array, purpose: KeyPurpose): Uint8Array {
  if (!(master instanceof Uint8Array) || master.length !== 32) {
    throw new NsekitError('CRYPTO_BAD_KEY', `master key must be 32 bytes, got ${master?.length}`);
  }
  return hkdf(sha256, master, SALT, utf8Encode(`nsekit/v1/${purpose}`), 32);
}

export interface KeyRing {
  body: Uint8Array;
  inbox: Uint8Array;
  notification: Uint8Array;
  keycheck: Uint8Array;
  outbox: Uint8Array;
}

export function deriveKeyRing(master: Uint8Array): KeyRing {
  return {
    body: deriveKey(master, 'body'),
    inbox: deriveKey(master, 'inbox'),
    notification: deriveKey(master, 'notification'),
    keycheck: deriveKey(master, 'keycheck'),
    outbox: deriveKey(master, 'outbox'),
  };
}

/** Overwrite key material we no longer need (best effort: JS may have copies). */
export function wipe(...keys: Uint8Array[]): void {
  for (const k of keys) k.fill(0);
}
