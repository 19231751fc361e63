/**
 * Regenerates test/vectors/envelope-v1.json: `npx tsx test/vectors/generate.ts`.
 * Deterministic: fixed keys, nonces from SeededRng(seed) (splitmix64), so a
 * rerun produces identical bytes. Every sealed value is also recomputed with
 * the independent oracle before writing; a mismatch aborts.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { concatBytes, toHex, utf8Encode } from '../../src/core/bytes.js';
import { EnvelopeKind, deriveKey, seal, type KeyPurpose } from '../../src/core/crypto/index.js';
import { SeededRng } from '../helpers/fakes.js';
import { hkdfOracle, xchachaOracle } from './oracle.js';

export const MASTER = Uint8Array.from({ length: 32 }, (_, i) => i);
export const E2E_KEY = new Uint8Array(32).fill(0x42);
export const SEED = 2026;
export const SALT = 'nsekit/v1/hkdf-salt';
const PURPOSES: KeyPurpose[] = ['body', 'inbox', 'notification', 'keycheck', 'outbox'];

const lp = (s: string) => {
  const b = utf8Encode(s);
  return concatBytes(Uint8Array.of(b.length >> 8, b.length & 255), b);
};

const cases: { name: string; kind: keyof typeof EnvelopeKind; key: KeyPurpose | 'e2e'; recordId: string; queueId: string; plaintext: Uint8Array }[] = [
  { name: 'message body', kind: 'messageBody', key: 'body', recordId: 'm1', queueId: 'q1', plaintext: utf8Encode('hello') },
  { name: 'e2e body, unicode', kind: 'e2eBody', key: 'e2e', recordId: '', queueId: 'q1', plaintext: utf8Encode('{"type":"text","text":"héllo 👋🏽 世界"}') },
  { name: 'inbox record, empty plaintext', kind: 'inboxRecord', key: 'inbox', recordId: 'm2', queueId: 'q1', plaintext: new Uint8Array(0) },
  { name: 'notification id, no queue', kind: 'notificationId', key: 'notification', recordId: 'n1', queueId: '', plaintext: utf8Encode('m1') },
  { name: 'outbox body, 300 bytes', kind: 'outboxBody', key: 'outbox', recordId: 'o-ü1', queueId: 'q2', plaintext: Uint8Array.from({ length: 300 }, (_, i) => i & 255) },
  { name: 'key check', kind: 'keyCheck', key: 'keycheck', recordId: '', queueId: '', plaintext: utf8Encode('nsekit-keycheck') },
];

export function buildVectors() {
  const subkeys: Record<string, string> = {};
  for (const p of PURPOSES) {
    const k = deriveKey(MASTER, p);
    const o = hkdfOracle(MASTER, utf8Encode(SALT), utf8Encode(`nsekit/v1/${p}`));
    if (toHex(k) !== toHex(o)) throw new Error(`HKDF mismatch for ${p}`);
    subkeys[p] = toHex(k);
  }
  const rng = new SeededRng(SEED);
  const vectors = cases.map((c) => {
    const key = c.key === 'e2e' ? E2E_KEY : deriveKey(MASTER, c.key);
    const kindByte = EnvelopeKind[c.kind];
    const nonce = rng.randomBytes(24);
    const sealed = seal(key, { randomBytes: () => nonce.slice() }, { kind: kindByte, recordId: c.recordId, queueId: c.queueId }, c.plaintext);
    const header = concatBytes(Uint8Array.of(0x4e, 0x4b, 1, kindByte), nonce);
    const aad = concatBytes(header, lp(c.recordId), lp(c.queueId));
    const independent = concatBytes(header, xchachaOracle(key, nonce, aad, c.plaintext));
    if (toHex(independent) !== toHex(sealed)) throw new Error(`oracle mismatch for ${c.name}`);
    return {
      name: c.name,
      kind: c.kind,
      kindByte,
      keyFrom: c.key,
      key: toHex(key),
      recordId: c.recordId,
      queueId: c.queueId,
      nonce: toHex(nonce),
      aad: toHex(aad),
      plaintext: toHex(c.plaintext),
      sealed: toHex(sealed),
    };
  });
  return {
    format: 'nsekit sealed envelope v1',
    generator: 'npx tsx test/vectors/generate.ts',
    masterKey: toHex(MASTER),
    e2eKey: toHex(E2E_KEY),
    hkdf: { hash: 'sha256', salt: SALT, info: 'nsekit/v1/<purpose>', length: 32 },
    subkeys,
    nonceRng: { algorithm: 'splitmix64, each 64-bit output little-endian, 24 bytes per vector in order', seed: SEED },
    vectors,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const out = fileURLToPath(new URL('./envelope-v1.json', import.meta.url));
  writeFileSync(out, JSON.stringify(buildVectors(), null, 2) + '\n');
  console.log(`wrote ${out}`);
}
