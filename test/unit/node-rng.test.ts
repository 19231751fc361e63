import { describe, expect, it } from 'vitest';
import { nodeRng } from '../../src/node/host.js';
import { toHex } from '../../src/core/bytes.js';

describe('nodeRng (pooled CSPRNG)', () => {
  it('hands out fresh bytes on every call, across pool refills, for small and large requests', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const b = nodeRng.randomBytes(24); // 1000 × 24 B spans several 4 KiB refills
      expect(b).toBeInstanceOf(Uint8Array);
      expect(b.length).toBe(24);
      seen.add(toHex(b));
    }
    expect(seen.size).toBe(1000);
    const big = nodeRng.randomBytes(8192);
    expect(big.length).toBe(8192);
    expect(new Set(big).size).toBeGreaterThan(200); // not a constant fill
    expect(nodeRng.randomBytes(0).length).toBe(0);
  });

  it('returned arrays are independent copies (mutating one does not touch later output)', () => {
    const a = nodeRng.randomBytes(32);
    a.fill(0);
    const b = nodeRng.randomBytes(32);
    expect(b.some((x) => x !== 0)).toBe(true);
  });
});
