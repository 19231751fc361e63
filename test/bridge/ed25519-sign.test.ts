import { ed25519 as noble } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../src/core/bytes.js';
import { ed25519 } from '../../src/core/bridge/ed25519-sign.js';

/** The app bundle's signer (in place of @noble/curves) signs byte for byte as noble does. */
describe('bridge ed25519 signer', () => {
  it('matches RFC 8032 test vector 2 (one-byte message)', () => {
    const sk = fromHex('4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb')!;
    expect(toHex(ed25519.getPublicKey(sk))).toBe('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
    expect(toHex(ed25519.sign(fromHex('72')!, sk))).toBe(
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    );
  });

  it('equals noble for 40 seeds and messages of every length class, and noble verifies each', () => {
    let s = 12345;
    const bytes = (n: number) => Uint8Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) >>> 0) >>> 16) & 255);
    for (let i = 0; i < 40; i++) {
      const sk = bytes(32);
      const msg = bytes([0, 1, 31, 32, 33, 64, 127, 200][i % 8]!);
      const sig = ed25519.sign(msg, sk);
      expect(toHex(sig)).toBe(toHex(noble.sign(msg, sk)));
      expect(toHex(ed25519.getPublicKey(sk))).toBe(toHex(noble.getPublicKey(sk)));
      expect(noble.verify(sig, msg, noble.getPublicKey(sk))).toBe(true);
    }
  });

  it('refuses a key that is not 32 bytes, and does not verify', () => {
    expect(() => ed25519.sign(new Uint8Array(1), new Uint8Array(31))).toThrow(/32 bytes/);
    expect(() => ed25519.verify()).toThrow(/not in the app bundle/);
  });
});
