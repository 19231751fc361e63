import { describe, expect, it } from 'vitest';
import { bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8Decode, utf8Encode } from '../../src/core/bytes.js';
import { SeededRng } from '../helpers/fakes.js';

// Node's Buffer is the oracle; src/core/bytes.ts must agree with it without using it.
const STRINGS = [
  '',
  'a',
  'hello, world',
  'ascii prefix then é, then ascii again', // the ASCII fast path hands over mid-string
  'ß é ñ ü',
  '€ ₹ 世界 한국어',
  '😀',
  '👋🏽 family: 👨‍👩‍👧‍👦 flag: 🇺🇦',
  '\u0000\u007f\u0080\u07ff\u0800\uffff',
  '\u{10000}\u{10ffff}',
  'x'.repeat(1000) + '🦊',
];

describe('utf8', () => {
  it('encodes exactly like Buffer and round-trips (BMP, surrogate pairs, emoji)', () => {
    for (const s of STRINGS) {
      expect(toHex(utf8Encode(s)), JSON.stringify(s)).toBe(Buffer.from(s, 'utf8').toString('hex'));
      expect(utf8Decode(utf8Encode(s))).toBe(s);
      expect(utf8Decode(new Uint8Array(Buffer.from(s, 'utf8')))).toBe(s);
    }
  });

  it('lone surrogates encode to U+FFFD like Buffer', () => {
    for (const s of ['\ud800', 'a\udc00b', '\ud83d', '\ud83dx', '\udfff\ud800']) {
      expect(toHex(utf8Encode(s)), JSON.stringify(s)).toBe(Buffer.from(s, 'utf8').toString('hex'));
    }
  });

  it('random code point strings round-trip and match Buffer (2000 seeded cases)', () => {
    const rng = new SeededRng(77);
    for (let n = 0; n < 2000; n++) {
      const len = rng.randomBytes(1)[0]! % 12;
      let s = '';
      for (let i = 0; i < len; i++) {
        const r = rng.randomBytes(3);
        let cp = ((r[0]! << 16) | (r[1]! << 8) | r[2]!) % 0x110000;
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41; // surrogates are not code points
        if (r[0]! & 1) cp &= 0x7ff; // bias towards short sequences
        s += String.fromCodePoint(cp);
      }
      expect(toHex(utf8Encode(s))).toBe(Buffer.from(s, 'utf8').toString('hex'));
      expect(utf8Decode(utf8Encode(s))).toBe(s);
    }
  });
});

describe('base64', () => {
  it('matches Buffer for every length 0..64 and round-trips', () => {
    const rng = new SeededRng(3);
    for (let n = 0; n <= 64; n++) {
      const b = rng.randomBytes(n);
      const s = toBase64(b);
      expect(s).toBe(Buffer.from(b).toString('base64'));
      expect(fromBase64(s)).toEqual(b);
    }
  });

  it('is strict: rejects bad characters, bad lengths and misplaced padding', () => {
    for (const bad of ['A', 'AB', 'ABC', 'ABCDE', 'AB=C', 'A===', '====', '=AAA', 'QQ==QQ==', 'QQ=', 'QQ==\n', ' QQ==', 'QQ-_', 'Q!==', 'ab\u00e9=']) {
      expect(fromBase64(bad), JSON.stringify(bad)).toBeNull();
    }
    expect(fromBase64('')).toEqual(new Uint8Array(0));
    expect(fromBase64('QQ==')).toEqual(Uint8Array.of(0x41));
    expect(fromBase64('QUI=')).toEqual(Uint8Array.of(0x41, 0x42));
  });
});

describe('hex and helpers', () => {
  it('hex round-trips against Buffer and rejects odd/invalid input', () => {
    const b = new SeededRng(4).randomBytes(40);
    expect(toHex(b)).toBe(Buffer.from(b).toString('hex'));
    expect(fromHex(toHex(b))).toEqual(b);
    expect(fromHex('ABcd')).toEqual(Uint8Array.of(0xab, 0xcd));
    for (const bad of ['a', 'zz', '0x00', '0 ']) expect(fromHex(bad)).toBeNull();
  });

  it('concatBytes and bytesEqual', () => {
    expect(concatBytes(Uint8Array.of(1), new Uint8Array(0), Uint8Array.of(2, 3))).toEqual(Uint8Array.of(1, 2, 3));
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true);
    expect(bytesEqual(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false);
    expect(bytesEqual(Uint8Array.of(1), Uint8Array.of(1, 0))).toBe(false);
  });
});
