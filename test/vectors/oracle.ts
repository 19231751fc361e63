/**
 * Independent reference computations for the envelope, sharing no code with
 * src/core/crypto or @noble: HKDF from Node's OpenSSL (crypto.hkdfSync) and
 * XChaCha20-Poly1305 built from a from-scratch HChaCha20 (RFC draft-irtf-cfrg-
 * xchacha §2.2) plus OpenSSL's IETF ChaCha20-Poly1305.
 */
import { createCipheriv, hkdfSync } from 'node:crypto';

export function hkdfOracle(master: Uint8Array, salt: Uint8Array, info: Uint8Array): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', master, salt, info, 32));
}

const rotl = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;

export function hchacha20(key: Uint8Array, nonce16: Uint8Array): Uint8Array {
  const dv = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);
  const k = dv(key);
  const n = dv(nonce16);
  const s = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574];
  for (let i = 0; i < 8; i++) s.push(k.getUint32(i * 4, true));
  for (let i = 0; i < 4; i++) s.push(n.getUint32(i * 4, true));
  const qr = (a: number, b: number, c: number, d: number) => {
    s[a] = (s[a]! + s[b]!) >>> 0; s[d] = rotl(s[d]! ^ s[a]!, 16);
    s[c] = (s[c]! + s[d]!) >>> 0; s[b] = rotl(s[b]! ^ s[c]!, 12);
    s[a] = (s[a]! + s[b]!) >>> 0; s[d] = rotl(s[d]! ^ s[a]!, 8);
    s[c] = (s[c]! + s[d]!) >>> 0; s[b] = rotl(s[b]! ^ s[c]!, 7);
  };
  for (let r = 0; r < 10; r++) {
    qr(0, 4, 8, 12); qr(1, 5, 9, 13); qr(2, 6, 10, 14); qr(3, 7, 11, 15);
    qr(0, 5, 10, 15); qr(1, 6, 11, 12); qr(2, 7, 8, 13); qr(3, 4, 9, 14);
  }
  const out = new Uint8Array(32);
  const o = new DataView(out.buffer);
  [0, 1, 2, 3, 12, 13, 14, 15].forEach((w, i) => o.setUint32(i * 4, s[w]!, true));
  return out;
}

/** XChaCha20-Poly1305 encrypt: ciphertext || 16-byte tag. */
export function xchachaOracle(key: Uint8Array, nonce24: Uint8Array, aad: Uint8Array, pt: Uint8Array): Uint8Array {
  const sub = hchacha20(key, nonce24.subarray(0, 16));
  const iv = new Uint8Array(12);
  iv.set(nonce24.subarray(16, 24), 4);
  const c = createCipheriv('chacha20-poly1305', sub, iv, { authTagLength: 16 });
  c.setAAD(aad, { plaintextLength: pt.length });
  const ct = Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
  return new Uint8Array(ct);
}
