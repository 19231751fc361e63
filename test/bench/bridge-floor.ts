/**
 * The bridge bench's raw baseline, bundled like the bridge (global `NsekitFloor`):
 * the crypto and parsing any NSE built to the brief must do for the same 100
 * notifications, with the mandated libraries and none of nsekit's machinery (only its byte
 * helpers and envelope AAD).
 * - once: derive the at-rest body key from the master key (HKDF-SHA256, @noble/hashes);
 * - per message: base64-decode the relay body, open it (XChaCha20-Poly1305,
 *   @noble/ciphers, same AAD as the core's envelope), parse the content JSON, re-seal
 *   it at rest under the body key, then run the host's GC, as the bridge's NSE does.
 * The sealed copy is dropped: the store (SQLite) lives in the host, not in JavaScript.
 * Byte helpers come from src/core/bytes.ts because a bare JSContext has no
 * TextEncoder/TextDecoder/atob (plain loops), and the AAD from the envelope
 * module, so the floor authenticates exactly what the core does.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { expand, extract } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { fromBase64, fromHex, utf8Decode, utf8Encode } from '../../src/core/bytes.js';
import { EnvelopeKind, envelopeAad } from '../../src/core/crypto/envelope.js';

const HEADER = 28;
const E2E = EnvelopeKind.e2eBody;
const AT_REST = EnvelopeKind.messageBody;

export interface FloorInput {
  config: { masterKeyHex: string; queueKeys: Record<string, string> };
  world: { queues: Record<string, { msgId: string; body: string }[]> };
  steps: { args: [{ queueIds: string[] }] }[];
}

/** Processes every step's queue in order; returns how many messages were opened and re-sealed. */
export function run(t: FloorInput, gc: () => void): number {
  const prk = extract(sha256, fromHex(t.config.masterKeyHex)!, utf8Encode('nsekit/v1/hkdf-salt'));
  const bodyKey = expand(sha256, prk, utf8Encode('nsekit/v1/body'), 32);
  const next: Record<string, number> = {};
  const nonce = new Uint8Array(24);
  let done = 0;
  for (const step of t.steps) {
    for (const q of step.args[0].queueIds) {
      const i = next[q] ?? 0;
      next[q] = i + 1;
      const m = t.world.queues[q]![i]!;
      const sealed = fromBase64(m.body)!;
      const header = sealed.subarray(0, HEADER);
      const plain = xchacha20poly1305(fromHex(t.config.queueKeys[q]!)!, sealed.subarray(4, HEADER), envelopeAad(header, { kind: E2E, recordId: '', queueId: q })).decrypt(sealed.subarray(HEADER));
      const content = JSON.parse(utf8Decode(plain)) as object;
      nonce[0] = done & 255;
      nonce[1] = done >> 8;
      const atRest = xchacha20poly1305(bodyKey, nonce, envelopeAad(header, { kind: AT_REST, recordId: m.msgId, queueId: q })).encrypt(utf8Encode(JSON.stringify(content)));
      if (atRest.length !== plain.length + 16) throw new Error('seal size');
      done++;
      gc();
    }
  }
  return done;
}
