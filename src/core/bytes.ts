/**
 * Byte helpers that work in bare JavaScriptCore, which has no TextEncoder,
 * TextDecoder, atob/btoa or Buffer.
 */

export function utf8Encode(s: string): Uint8Array {
  // Fast path: ids and queue names are ASCII, and they are encoded on every seal/open.
  const n = s.length;
  const ascii = new Uint8Array(n);
  let i0 = 0;
  for (; i0 < n; i0++) {
    const c = s.charCodeAt(i0);
    if (c >= 0x80) break;
    ascii[i0] = c;
  }
  if (i0 === n) return ascii;
  const out: number[] = [];
  for (let i = 0; i < i0; i++) out.push(ascii[i]!);
  for (let i = i0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else c = 0xfffd;
    } else if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return Uint8Array.from(out);
}

/** UTF-8 decode; malformed, overlong, surrogate or out-of-range sequences become U+FFFD. */
export function utf8Decode(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; ) {
    const c = b[i++]!;
    let need = 0;
    let cp = 0;
    let min = 0;
    if (c < 0x80) cp = c;
    else if (c >> 5 === 6) [need, cp, min] = [1, c & 31, 0x80];
    else if (c >> 4 === 14) [need, cp, min] = [2, c & 15, 0x800];
    else if (c >> 3 === 30) [need, cp, min] = [3, c & 7, 0x10000];
    else cp = 0xfffd;
    let ok = true;
    for (let k = 0; k < need; k++) {
      const d = b[i];
      if (d === undefined || d >> 6 !== 2) {
        ok = false;
        break;
      }
      cp = (cp << 6) | (d & 63);
      i++;
    }
    if (need > 0 && (!ok || cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) cp = 0xfffd;
    if (cp > 0xffff) {
      cp -= 0x10000;
      s += String.fromCharCode(0xd800 + (cp >> 10), 0xdc00 + (cp & 1023));
    } else s += String.fromCharCode(cp);
  }
  return s;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_REV: Record<string, number> = {};
for (let i = 0; i < B64.length; i++) B64_REV[B64[i]!] = i;

export function toBase64(b: Uint8Array): string {
  let s = '';
  let i = 0;
  for (; i + 2 < b.length; i += 3) {
    const n = (b[i]! << 16) | (b[i + 1]! << 8) | b[i + 2]!;
    s += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  if (i < b.length) {
    const n = (b[i]! << 16) | ((i + 1 < b.length ? b[i + 1]! : 0) << 8);
    s += B64[n >> 18]! + B64[(n >> 12) & 63]!;
    s += i + 1 < b.length ? B64[(n >> 6) & 63]! + '=' : '==';
  }
  return s;
}

/** Strict base64 decode; returns null on any invalid input instead of guessing. */
export function fromBase64(s: string): Uint8Array | null {
  if (s.length % 4 !== 0) return null;
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const ch = s[i + j]!;
      if (ch === '=' && i + 4 === s.length && j >= 4 - pad) {
        n <<= 6;
        continue;
      }
      const v = B64_REV[ch];
      if (v === undefined) return null;
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
  }
  return out;
}

export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

export function fromHex(s: string): Uint8Array | null {
  if (s.length % 2 !== 0) return null;
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) {
    const hi = hexDigit(s.charCodeAt(2 * i));
    const lo = hexDigit(s.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return null; // only [0-9a-fA-F]
    out[i] = (hi << 4) | lo;
  }
  return out;
}

/** Value of one hex digit's char code, or -1. (Keys are parsed at every process start: no regex, no substrings.) */
function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
