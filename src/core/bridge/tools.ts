/**
 * Helpers the bundle exports for hosts and their tests: build the bytes a
 * relay would carry (a sender's sealed body, a push's sealed notification id)
 * from hex randomness, so a Swift test (or the conformance recorder) can craft
 * inputs without a second crypto implementation.
 */
import { fromHex, toBase64 } from '../bytes.js';
import type { MessageContent } from '../content.js';
import { NsekitError } from '../errors.js';
import type { Rng } from '../host.js';
import { sealForQueue } from '../inbound/index.js';
import { sealNotificationId } from '../protocol/notification-id.js';

function hexKey(keyHex: string): Uint8Array {
  const k = fromHex(keyHex);
  if (!k || k.length !== 32) throw new NsekitError('BRIDGE_BAD_INPUT', 'key must be 64 hex characters');
  return k;
}

/** Randomness from a fixed hex string (a 24-byte nonce), so outputs are reproducible. */
function fixedRng(nonceHex: string): Rng {
  return {
    randomBytes(n) {
      const b = fromHex(nonceHex);
      if (!b || b.length !== n) throw new NsekitError('BRIDGE_BAD_INPUT', `nonceHex must be ${n} bytes`);
      return b;
    },
  };
}

/** The sender's end-to-end body for `queueId`, base64 (what transportGet returns as `body`). */
export function sealE2eBody(keyHex: string, queueId: string, content: MessageContent, nonceHex: string): string {
  return toBase64(sealForQueue(hexKey(keyHex), fixedRng(nonceHex), queueId, content));
}

/** A push payload's sealed notification id, base64. */
export function sealNid(keyHex: string, notifierId: string, msgId: string, ts: number, nonceHex: string): string {
  return toBase64(sealNotificationId(hexKey(keyHex), fixedRng(nonceHex), notifierId, { msgId, ts }));
}
