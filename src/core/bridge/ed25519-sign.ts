/**
 * Ed25519 signing (RFC 8032, deterministic) for the app bundle, in place of
 * @noble/curves: the app signs its low-power status requests
 * (src/core/protocol/status-sig.ts) and does nothing else with the curve, so
 * noble's generic Edwards/field machinery (~24 KB minified) is the largest part
 * of nsekit-app.js that it does not need. ios-bridge/build.ts resolves
 * `@noble/curves/ed25519.js` to this file for the app bundle only; the Node
 * processes and the relay keep noble. Same bytes as noble's `ed25519.sign`
 * (test/bridge/ed25519-sign.test.ts compares them, RFC 8032 vectors included).
 *
 * Plain BigInt arithmetic, no precomputed tables: not constant time (neither
 * is any BigInt code in JavaScript, noble's included). The key it uses is the
 * queue's status key, which only lets its holder ask the relay whether the
 * queue has a message.
 */
import { sha512 } from '@noble/hashes/sha2.js';

const P = 2n ** 255n - 19n;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const mod = (a: bigint, m = P): bigint => {
  const r = a % m;
  return r >= 0n ? r : r + m;
};
function pow(b: bigint, e: bigint): bigint {
  let r = 1n;
  for (b = mod(b); e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
  return r;
}
const inv = (a: bigint): bigint => pow(a, P - 2n);
const D2 = mod(2n * -121665n * inv(121666n));

/** Extended coordinates (X:Y:Z:T), x = X/Z, y = Y/Z, xy = T/Z. */
type Point = readonly [bigint, bigint, bigint, bigint];
const BASE: Point = (() => {
  const x = 15112221349535400772501151409588531511454012693041857206046113283949847762202n;
  const y = 46316835694926478169428394003475163141307993866256225615783033603165251855960n;
  return [x, y, 1n, (x * y) % P];
})();
const ZERO: Point = [0n, 1n, 1n, 0n];

/** Unified addition for a = -1 (add-2008-hwcd-3); also doubles. */
function add(p: Point, q: Point): Point {
  const a = ((p[1] - p[0]) * (q[1] - q[0])) % P;
  const b = ((p[1] + p[0]) * (q[1] + q[0])) % P;
  const c = (((p[3] * D2) % P) * q[3]) % P;
  const d = (2n * p[2] * q[2]) % P;
  const e = b - a;
  const f = d - c;
  const g = d + c;
  const h = b + a;
  return [mod(e * f), mod(g * h), mod(f * g), mod(e * h)];
}

function mul(k: bigint): Point {
  let r = ZERO;
  for (let q = BASE; k > 0n; k >>= 1n, q = add(q, q)) if (k & 1n) r = add(r, q);
  return r;
}

function encode(p: Point): Uint8Array {
  const zi = inv(p[2]);
  const x = mod(p[0] * zi);
  let y = mod(p[1] * zi);
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, y >>= 8n) out[i] = Number(y & 255n);
  out[31]! |= Number(x & 1n) << 7;
  return out;
}

function le(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i]!);
  return n;
}

function le32(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 255n);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The secret scalar (clamped), the nonce prefix and the public key of a 32-byte seed. */
function expand(seed: Uint8Array): { s: bigint; prefix: Uint8Array; pub: Uint8Array } {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new Error('ed25519: the secret key must be 32 bytes');
  const h = sha512(seed);
  const a = h.slice(0, 32);
  a[0]! &= 248;
  a[31]! &= 127;
  a[31]! |= 64;
  const s = le(a);
  return { s, prefix: h.slice(32), pub: encode(mul(s)) };
}

function getPublicKey(secretKey: Uint8Array): Uint8Array {
  return expand(secretKey).pub;
}

function sign(message: Uint8Array, secretKey: Uint8Array): Uint8Array {
  const { s, prefix, pub } = expand(secretKey);
  const r = mod(le(sha512(concat(prefix, message))), L);
  const R = encode(mul(r));
  const k = mod(le(sha512(concat(R, pub, message))), L);
  return concat(R, le32(mod(r + k * s, L)));
}

/** Verifying is the relay's job: the app bundle never verifies (status-sig's verifier is not in it). */
function verify(): boolean {
  throw new Error('ed25519.verify is not in the app bundle');
}

/** The subset of @noble/curves' `ed25519` that status-sig.ts uses. */
export const ed25519 = { getPublicKey, sign, verify };
