import type { Rng } from '../../src/core/host.js';

/**
 * Seeded number generator for scheduling and scenario generation
 * (mulberry32: fast, 32-bit state, same sequence on every platform).
 * Not for keys: crypto nonces come from SeededRng (splitmix64) below.
 */
export class Prng {
  private a: number;
  constructor(seed: number) {
    this.a = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.a = (this.a + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** Integer in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  /** A derived, independent generator (for a sub-stream that must not shift the parent). */
  fork(salt: number): Prng {
    return new Prng((Math.imul(this.int(0x7fffffff) ^ salt, 0x9e3779b1) >>> 0) || 1);
  }
}

/**
 * Deterministic NOT-secure Rng for tests and vectors: splitmix64, each 64-bit
 * output emitted little-endian. Same seed → same bytes on every platform.
 */
export class SeededRng implements Rng {
  private s: bigint;
  constructor(seed: number | bigint = 1) {
    this.s = BigInt.asUintN(64, BigInt(seed));
  }
  next64(): bigint {
    this.s = BigInt.asUintN(64, this.s + 0x9e3779b97f4a7c15n);
    let z = this.s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }
  randomBytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 8) {
      let v = this.next64();
      for (let j = 0; j < 8 && i + j < n; j++, v >>= 8n) out[i + j] = Number(v & 0xffn);
    }
    return out;
  }
}
