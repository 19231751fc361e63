import { describe, expect, it } from 'vitest';
import { toBase64 } from '../../src/core/bytes.js';
import { isNsekitError } from '../../src/core/errors.js';
import { decodeClientFrame, decodeServerFrame, encodeFrame } from '../../src/core/protocol/codec.js';
import type { ClientFrame, ServerFrame } from '../../src/core/protocol/frames.js';
import { openNotificationId, sealNotificationId } from '../../src/core/protocol/notification-id.js';
import { generateStatusKeypair, signStatusRequest, verifyStatusSignature } from '../../src/core/protocol/status-sig.js';
import { nodeRng } from '../../src/node/host.js';

const KEY32 = toBase64(new Uint8Array(32).fill(9));

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    if (isNsekitError(e)) return e.code;
    throw e;
  }
  return 'NO_ERROR';
}

describe('protocol codec', () => {
  it('round-trips every client command', () => {
    const frames: ClientFrame[] = [
      { type: 'NEW', corrId: '1' },
      { type: 'NEW', corrId: '2', recipientKey: KEY32 },
      { type: 'SEND', corrId: '3', queueId: 'q1', senderCred: 'c1', body: 'aGk=', flags: { notification: true } },
      { type: 'SEND', corrId: '3e', queueId: 'q1', senderCred: 'c1', body: '', flags: { notification: false } },
      { type: 'SUB', corrId: '4', queueId: 'q1', cred: 'c' },
      { type: 'GET', corrId: '5', queueId: 'q1', cred: 'c' },
      { type: 'UNSUB', corrId: '6', queueId: 'q1', cred: 'c' },
      { type: 'ACK', corrId: '7', queueId: 'q1', cred: 'c', msgId: 'm1' },
      { type: 'NSUB', corrId: '8', queueId: 'q1', cred: 'c', deviceToken: 'abc:def.1' },
      { type: 'PING', corrId: '9' },
    ];
    for (const f of frames) expect(decodeClientFrame(encodeFrame(f))).toEqual(f);
  });

  it('round-trips every server frame', () => {
    const frames: ServerFrame[] = [
      { type: 'IDS', corrId: '1', queueId: 'q', recipientCred: 'r', senderCred: 's' },
      { type: 'NID', corrId: '2', notifierId: 'n', notifierKey: KEY32 },
      { type: 'OK', corrId: '3' },
      { type: 'MSG', corrId: '4', queueId: 'q', msgId: 'm', ts: 5, flags: { notification: false }, body: 'AA==' },
      { type: 'MSG', queueId: 'q', msgId: 'm', ts: 0, flags: { notification: true }, body: '' },
      { type: 'ERR', corrId: '5', code: 'PROTO_AUTH', message: 'no' },
      { type: 'ERR', code: 'PROTO_MALFORMED' },
      { type: 'END', queueId: 'q' },
      { type: 'PONG', corrId: '6' },
    ];
    for (const f of frames) expect(decodeServerFrame(encodeFrame(f))).toEqual(f);
  });

  it('ignores unknown extra fields', () => {
    expect(decodeClientFrame('{"type":"PING","corrId":"a","future":1}')).toEqual({ type: 'PING', corrId: 'a' });
  });

  it('rejects non-text, non-JSON and non-object frames with PROTO_MALFORMED', () => {
    for (const bad of [new Uint8Array([1]), '{', 'null', '[]', '"x"', '42', '']) expect(code(() => decodeClientFrame(bad))).toBe('PROTO_MALFORMED');
  });

  it('rejects unknown types with PROTO_UNKNOWN_COMMAND, keeping the corrId', () => {
    try {
      decodeClientFrame('{"type":"DROP","corrId":"c9"}');
      expect.unreachable();
    } catch (e) {
      expect(isNsekitError(e, 'PROTO_UNKNOWN_COMMAND')).toBe(true);
      expect((e as { details: { corrId: string } }).details.corrId).toBe('c9');
    }
    // A server frame type is not a client command.
    expect(code(() => decodeClientFrame('{"type":"OK","corrId":"c"}'))).toBe('PROTO_UNKNOWN_COMMAND');
    expect(code(() => decodeServerFrame('{"type":"SEND","corrId":"c"}'))).toBe('PROTO_UNKNOWN_COMMAND');
  });

  it('validates every field', () => {
    const send = { type: 'SEND', corrId: 'c', queueId: 'q', senderCred: 's', body: 'AA==', flags: { notification: false } };
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...send, corrId: '' }, 'PROTO_MALFORMED'],
      [{ ...send, corrId: 'has space' }, 'PROTO_MALFORMED'],
      [{ ...send, corrId: 7 }, 'PROTO_MALFORMED'],
      [{ ...send, queueId: 'q/../x' }, 'PROTO_MALFORMED'],
      [{ ...send, queueId: 'q'.repeat(65) }, 'PROTO_MALFORMED'],
      [{ ...send, senderCred: undefined }, 'PROTO_MALFORMED'],
      [{ ...send, body: 'AAA' }, 'PROTO_MALFORMED'],
      [{ ...send, body: 'A=AA' }, 'PROTO_MALFORMED'],
      [{ ...send, body: 5 }, 'PROTO_MALFORMED'],
      [{ ...send, flags: undefined }, 'PROTO_MALFORMED'],
      [{ ...send, flags: { notification: 'yes' } }, 'PROTO_MALFORMED'],
      [{ ...send, flags: [] }, 'PROTO_MALFORMED'],
      [{ type: 'NEW', corrId: 'c', recipientKey: toBase64(new Uint8Array(31)) }, 'PROTO_MALFORMED'],
      [{ type: 'ACK', corrId: 'c', queueId: 'q', cred: 'r' }, 'PROTO_MALFORMED'],
      [{ type: 'NSUB', corrId: 'c', queueId: 'q', cred: 'r', deviceToken: 'a b' }, 'PROTO_MALFORMED'],
      [{ type: 'PING' }, 'PROTO_MALFORMED'],
    ];
    for (const [f, c] of cases) expect([f, code(() => decodeClientFrame(JSON.stringify(f)))]).toEqual([f, c]);
    const msg = { type: 'MSG', queueId: 'q', msgId: 'm', ts: 1, flags: { notification: false }, body: '' };
    for (const bad of [{ ...msg, ts: -1 }, { ...msg, ts: 1.5 }, { ...msg, ts: '1' }, { ...msg, msgId: '' }]) {
      expect(code(() => decodeServerFrame(JSON.stringify(bad)))).toBe('PROTO_MALFORMED');
    }
    expect(code(() => decodeServerFrame('{"type":"ERR","code":"lower"}'))).toBe('PROTO_MALFORMED');
  });

  it('enforces the body limit with PROTO_TOO_LARGE', () => {
    const frame = (n: number) => JSON.stringify({ type: 'SEND', corrId: 'c', queueId: 'q', senderCred: 's', body: toBase64(new Uint8Array(n)), flags: { notification: false } });
    expect(decodeClientFrame(frame(100), { maxBodyBytes: 100 }).type).toBe('SEND');
    expect(code(() => decodeClientFrame(frame(101), { maxBodyBytes: 100 }))).toBe('PROTO_TOO_LARGE');
    expect(code(() => decodeClientFrame(frame(64 * 1024 + 1)))).toBe('PROTO_TOO_LARGE');
  });
});

describe('notification ids and status signatures', () => {
  it('seals a msgId that opens only with the right key and notifierId', () => {
    const key = nodeRng.randomBytes(32);
    const sealed = sealNotificationId(key, nodeRng, 'nid1', { msgId: 'm42', ts: 7 });
    expect(openNotificationId(key, 'nid1', sealed)).toEqual({ msgId: 'm42', ts: 7 });
    expect(code(() => openNotificationId(key, 'nid2', sealed))).toBe('CRYPTO_AUTH_FAILED');
    expect(code(() => openNotificationId(nodeRng.randomBytes(32), 'nid1', sealed))).toBe('CRYPTO_AUTH_FAILED');
  });

  it('verifies status signatures over id:timestamp and nothing else', () => {
    const k = generateStatusKeypair(nodeRng);
    const sig = signStatusRequest(k.secretKey, 'q1', 1000);
    expect(sig).toMatch(/^[0-9a-f]{128}$/);
    expect(verifyStatusSignature(k.publicKey, 'q1', 1000, sig)).toBe(true);
    expect(verifyStatusSignature(k.publicKey, 'q1', 1001, sig)).toBe(false);
    expect(verifyStatusSignature(k.publicKey, 'q2', 1000, sig)).toBe(false);
    expect(verifyStatusSignature(generateStatusKeypair(nodeRng).publicKey, 'q1', 1000, sig)).toBe(false);
    expect(verifyStatusSignature(k.publicKey, 'q1', 1000, 'zz')).toBe(false);
    expect(verifyStatusSignature(k.publicKey, 'q1', 1000, '0'.repeat(128))).toBe(false);
  });
});
