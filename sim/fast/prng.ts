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
 * The 64-bit state is kept as two 32-bit halves (BigInt arithmetic allocated on
 * every step: every nonce of a fast run comes from here); same sequence as the
 * BigInt formulation.
 */
export class SeededRng implements Rng {
  private hi: number;
  private lo: number;
  constructor(seed: number | bigint = 1) {
    const s = BigInt.asUintN(64, BigInt(seed));
    this.hi = Number(s >> 32n);
    this.lo = Number(s & 0xffffffffn);
  }
  /** The next output as [hi, lo] 32-bit halves (in `out`). */
  private step(out: Uint32Array): void {
    // s += 0x9e3779b97f4a7c15
    const lo0 = this.lo + 0x7f4a7c15;
    this.lo = lo0 >>> 0;
    this.hi = (this.hi + 0x9e3779b9 + (lo0 > 0xffffffff ? 1 : 0)) >>> 0;
    let h = this.hi, l = this.lo;
    // z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
    l = (l ^ ((l >>> 30) | (h << 2))) >>> 0;
    h = (h ^ (h >>> 30)) >>> 0;
    mul64(h, l, 0xbf58476d, 0x1ce4e5b9, out);
    h = out[0]!;
    l = out[1]!;
    // z = (z ^ (z >> 27)) * 0x94d049bb133111eb
    l = (l ^ ((l >>> 27) | (h << 5))) >>> 0;
    h = (h ^ (h >>> 27)) >>> 0;
    mul64(h, l, 0x94d049bb, 0x133111eb, out);
    h = out[0]!;
    l = out[1]!;
    // z ^ (z >> 31)
    out[1] = l ^ ((l >>> 31) | (h << 1));
    out[0] = h ^ (h >>> 31);
  }
  next64(): bigint {
    const o = new Uint32Array(2);
    this.step(o);
    return (BigInt(o[0]!) << 32n) | BigInt(o[1]!);
  }
  randomBytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    const o = new Uint32Array(2);
    for (let i = 0; i < n; i += 8) {
      this.step(o);
      const lo = o[1]!, hi = o[0]!;
      for (let j = 0; j < 8 && i + j < n; j++) out[i + j] = (j < 4 ? lo >>> (8 * j) : hi >>> (8 * (j - 4))) & 0xff;
    }
    return out;
  }
}

/** (ah·2³² + al) × (bh·2³² + bl) mod 2⁶⁴, as [hi, lo] in `out`. */
function mul64(ah: number, al: number, bh: number, bl: number, out: Uint32Array): void {
  const a0 = al & 0xffff, a1 = al >>> 16, b0 = bl & 0xffff, b1 = bl >>> 16;
  const p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  const hiOfLo = p11 + Math.floor(p01 / 65536) + Math.floor(p10 / 65536) + Math.floor(mid / 65536);
  out[1] = Math.imul(al, bl);
  out[0] = hiOfLo + Math.imul(ah, bl) + Math.imul(al, bh);
}
