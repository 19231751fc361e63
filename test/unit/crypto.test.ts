import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  EnvelopeKind,
  HEADER_LEN,
  TAG_LEN,
  deriveKey,
  deriveKeyRing,
  envelopeKind,
  open,
  seal,
  type EnvelopeBinding,
  type KeyPurpose,
} from '../../src/core/crypto/index.js';
import { isNsekitError } from '../../src/core/errors.js';
import { fromHex, toHex, utf8Encode } from '../../src/core/bytes.js';
import { SeededRng } from '../helpers/fakes.js';
import { hchacha20, hkdfOracle, xchachaOracle } from '../vectors/oracle.js';
import { buildVectors } from '../vectors/generate.js';

const KEY = new Uint8Array(32).fill(9);
const B: EnvelopeBinding = { kind: EnvelopeKind.messageBody, recordId: 'm1', queueId: 'q1' };
const PT = utf8Encode('the quick brown fox 🦊');

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return isNsekitError(e) ? e.code : `other: ${String(e)}`;
  }
}

describe('sealed envelope', () => {
  const sealed = seal(KEY, new SeededRng(5), B, PT);

  it('round-trips, with the documented layout', () => {
    expect(open(KEY, B, sealed)).toEqual(PT);
    expect(sealed.length).toBe(HEADER_LEN + PT.length + TAG_LEN);
    expect([...sealed.subarray(0, 4)]).toEqual([0x4e, 0x4b, 1, EnvelopeKind.messageBody]);
    expect(envelopeKind(sealed)).toBe(EnvelopeKind.messageBody);
    // Fresh nonce per seal: same input, different bytes.
    expect(toHex(seal(KEY, new SeededRng(6), B, PT))).not.toBe(toHex(sealed));
  });

  it('opens an envelope at an unaligned offset inside a larger buffer', () => {
    const buf = new Uint8Array(sealed.length + 3);
    buf.set(sealed, 1);
    expect(open(KEY, B, buf.subarray(1, 1 + sealed.length))).toEqual(PT);
  });

  it('wrong key → CRYPTO_AUTH_FAILED', () => {
    expect(codeOf(() => open(new Uint8Array(32).fill(8), B, sealed))).toBe('CRYPTO_AUTH_FAILED');
  });

  it('every single flipped bit is refused (AUTH_FAILED, or BAD_VERSION in magic/version/kind)', () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < sealed.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const t = sealed.slice();
        t[i]! ^= 1 << bit;
        const code = codeOf(() => open(KEY, B, t));
        seen.set(code, (seen.get(code) ?? 0) + 1);
        if (i >= 4) expect(code, `byte ${i} bit ${bit}`).toBe('CRYPTO_AUTH_FAILED');
        else expect(['CRYPTO_AUTH_FAILED', 'CRYPTO_BAD_VERSION'], `byte ${i} bit ${bit}`).toContain(code);
      }
    }
    expect(seen.get('ok')).toBeUndefined();
    expect([...seen.values()].reduce((a, b) => a + b, 0)).toBe(sealed.length * 8);
  });

  it('truncated at any length below header + tag → CRYPTO_TRUNCATED; cut ciphertext → AUTH_FAILED', () => {
    for (let n = 0; n < HEADER_LEN + TAG_LEN; n++) expect(codeOf(() => open(KEY, B, sealed.subarray(0, n)))).toBe('CRYPTO_TRUNCATED');
    expect(codeOf(() => open(KEY, B, sealed.subarray(0, sealed.length - 1)))).toBe('CRYPTO_AUTH_FAILED');
    // An empty plaintext is exactly header + tag and is valid.
    const empty = seal(KEY, new SeededRng(1), B, new Uint8Array(0));
    expect(empty.length).toBe(HEADER_LEN + TAG_LEN);
    expect(open(KEY, B, empty)).toEqual(new Uint8Array(0));
  });

  it('a row moved to another recordId, queueId or kind fails to open', () => {
    expect(codeOf(() => open(KEY, { ...B, recordId: 'm2' }, sealed))).toBe('CRYPTO_AUTH_FAILED');
    expect(codeOf(() => open(KEY, { ...B, queueId: 'q2' }, sealed))).toBe('CRYPTO_AUTH_FAILED');
    expect(codeOf(() => open(KEY, { ...B, kind: EnvelopeKind.inboxRecord }, sealed))).toBe('CRYPTO_AUTH_FAILED');
    // Length prefixes keep ("m1","q1") and ("m1q","1") apart.
    expect(codeOf(() => open(KEY, { ...B, recordId: 'm1q', queueId: '1' }, sealed))).toBe('CRYPTO_AUTH_FAILED');
    // Rewriting the kind byte itself to another valid kind: still refused.
    const t = sealed.slice();
    t[3] = EnvelopeKind.inboxRecord;
    expect(codeOf(() => open(KEY, { ...B, kind: EnvelopeKind.inboxRecord }, t))).toBe('CRYPTO_AUTH_FAILED');
  });

  it('unknown magic, version or kind → CRYPTO_BAD_VERSION', () => {
    for (const [i, v] of [[0, 0x4f], [2, 2], [3, 0], [3, 200]] as const) {
      const t = sealed.slice();
      t[i] = v;
      expect(codeOf(() => open(KEY, B, t)), `byte ${i}=${v}`).toBe('CRYPTO_BAD_VERSION');
    }
  });

  it('keys of the wrong length → CRYPTO_BAD_KEY (seal, open, derive)', () => {
    for (const n of [0, 16, 31, 33, 64]) {
      const k = new Uint8Array(n);
      expect(codeOf(() => seal(k, new SeededRng(1), B, PT))).toBe('CRYPTO_BAD_KEY');
      expect(codeOf(() => open(k, B, sealed))).toBe('CRYPTO_BAD_KEY');
      expect(codeOf(() => deriveKey(k, 'body'))).toBe('CRYPTO_BAD_KEY');
    }
    expect(codeOf(() => seal('x'.repeat(32) as unknown as Uint8Array, new SeededRng(1), B, PT))).toBe('CRYPTO_BAD_KEY');
  });

  it('sealing with an unknown kind is refused (CRYPTO_BAD_VERSION), not written unopenable', () => {
    expect(codeOf(() => seal(KEY, new SeededRng(1), { ...B, kind: 99 as EnvelopeKind }, PT))).toBe('CRYPTO_BAD_VERSION');
  });

  it('e2eBody is a distinct kind that round-trips', () => {
    const b: EnvelopeBinding = { kind: EnvelopeKind.e2eBody, recordId: '', queueId: 'q1' };
    const s = seal(KEY, new SeededRng(2), b, PT);
    expect(s[3]).toBe(6);
    expect(open(KEY, b, s)).toEqual(PT);
  });
});

describe('key derivation', () => {
  const master = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);

  it('gives a distinct 32-byte subkey per purpose, equal to HKDF-SHA256 from Node/OpenSSL', () => {
    const ring = deriveKeyRing(master);
    const hexes = Object.values(ring).map(toHex);
    expect(new Set(hexes).size).toBe(5);
    for (const [p, k] of Object.entries(ring)) {
      expect(k.length).toBe(32);
      expect(toHex(k)).toBe(toHex(hkdfOracle(master, utf8Encode('nsekit/v1/hkdf-salt'), utf8Encode(`nsekit/v1/${p}`))));
      expect(toHex(deriveKey(master, p as KeyPurpose))).toBe(toHex(k));
    }
    expect(hexes).not.toContain(toHex(master));
  });
});

describe('test vectors (test/vectors/envelope-v1.json)', () => {
  const file = JSON.parse(readFileSync(new URL('../vectors/envelope-v1.json', import.meta.url), 'utf8'));

  it('the oracle itself matches the published HChaCha20 test vector (draft-irtf-cfrg-xchacha §2.2.1)', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const nonce = fromHex('000000090000004a0000000031415927')!;
    expect(toHex(hchacha20(key, nonce))).toBe('82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc');
  });

  it('SeededRng is splitmix64 (reference outputs for seed 1234567)', () => {
    const r = new SeededRng(1234567);
    expect([r.next64(), r.next64()]).toEqual([6457827717110365317n, 3203168211198807973n]);
  });

  it('the committed file is exactly what the generator produces', () => {
    expect(buildVectors()).toEqual(file);
  });

  it('our code and the independent oracle reproduce every vector', () => {
    const master = fromHex(file.masterKey)!;
    for (const [p, hex] of Object.entries(file.subkeys as Record<string, string>)) {
      expect(toHex(deriveKey(master, p as KeyPurpose))).toBe(hex);
      expect(toHex(hkdfOracle(master, utf8Encode(file.hkdf.salt), utf8Encode(`nsekit/v1/${p}`)))).toBe(hex);
    }
    const rng = new SeededRng(file.nonceRng.seed);
    expect(file.vectors.length).toBeGreaterThanOrEqual(6);
    for (const v of file.vectors) {
      const key = fromHex(v.key)!;
      const nonce = fromHex(v.nonce)!;
      const pt = fromHex(v.plaintext)!;
      const binding: EnvelopeBinding = { kind: v.kindByte, recordId: v.recordId, queueId: v.queueId };
      expect(EnvelopeKind[v.kind as keyof typeof EnvelopeKind]).toBe(v.kindByte);
      expect(toHex(rng.randomBytes(24))).toBe(v.nonce);
      expect(toHex(seal(key, { randomBytes: () => nonce.slice() }, binding, pt))).toBe(v.sealed);
      expect(toHex(open(key, binding, fromHex(v.sealed)!))).toBe(v.plaintext);
      const header = fromHex(v.sealed)!.subarray(0, HEADER_LEN);
      expect(toHex(header) + toHex(xchachaOracle(key, nonce, fromHex(v.aad)!, pt))).toBe(v.sealed);
    }
  });
});
