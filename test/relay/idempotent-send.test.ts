import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toBase64 } from '../../src/core/bytes.js';
import { isNsekitError } from '../../src/core/errors.js';
import type { WsTransport } from '../../src/node/transport/ws-transport.js';
import type { SendStoredEvent } from '../../src/relay/connection.js';
import { credHash } from '../../src/relay/db.js';
import { RELAY_SCHEMA_VERSION } from '../../src/relay/schema.js';
import type { RelayOptions, RunningRelay } from '../../src/relay/server.js';
import { RawWs } from '../helpers/raw-ws.js';
import { SimClock } from '../helpers/sim-clock.js';
import { bytes, client, relay, tempDir, text } from './fixtures.js';

/**
 * Idempotent SEND (docs/protocol.md "Idempotent SEND"): a real relay, driven
 * by a raw ws client and by our WsTransport. "At the relay" is always checked
 * by draining the queue with GET/ACK.
 */
describe('relay: idempotent SEND with clientId', () => {
  let tmp: ReturnType<typeof tempDir>;
  const cleanups: Array<() => Promise<void> | void> = [];
  const track = <T extends { close(): Promise<void> | void }>(x: T): T => {
    cleanups.push(() => x.close());
    return x;
  };
  const start = async (opts: Partial<RelayOptions> = {}) => track(await relay({ dbPath: tmp.db, ...opts }));
  const raw = async (r: RunningRelay) => track(await RawWs.open(r.url));

  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(async () => {
    for (const f of cleanups.splice(0).reverse()) await f();
    tmp.cleanup();
  });

  /** GET/ACK everything on the queue (bounded); the bodies in order. */
  async function drain(t: WsTransport, queueId: string): Promise<string[]> {
    const got: string[] = [];
    for (let i = 0; i < 20; i++) {
      const m = await t.get(queueId);
      if (!m) return got;
      got.push(text(m.body));
      await t.ack(queueId, m.msgId);
    }
    throw new Error('queue did not drain in 20 GETs');
  }

  const sendFrame = (q: { queueId: string; senderCred: string }, corrId: string, body: string, clientId?: unknown) => ({
    type: 'SEND',
    corrId,
    queueId: q.queueId,
    senderCred: q.senderCred,
    body: toBase64(bytes(body)),
    flags: { notification: false },
    ...(clientId !== undefined ? { clientId } : {}),
  });

  it('raw client: the same clientId twice → one message, the OK carries the original msgId; a different body is still a duplicate', async () => {
    const r = await start();
    const w = await raw(r);
    const q = (await w.call({ type: 'NEW', corrId: 'n' })) as { queueId: string; senderCred: string; recipientCred: string };
    const first = await w.call(sendFrame(q, 's1', 'hello', 'cid-1'));
    expect(first).toMatchObject({ type: 'OK', corrId: 's1', duplicate: false });
    expect(typeof first.msgId).toBe('string');
    const again = await w.call(sendFrame(q, 's2', 'hello', 'cid-1'));
    expect(again).toEqual({ type: 'OK', corrId: 's2', msgId: first.msgId, duplicate: true });
    // The first SEND wins, whatever the repeat carries.
    const other = await w.call(sendFrame(q, 's3', 'a different body', 'cid-1'));
    expect(other).toEqual({ type: 'OK', corrId: 's3', msgId: first.msgId, duplicate: true });

    const m = await w.call({ type: 'GET', corrId: 'g1', queueId: q.queueId, cred: q.recipientCred });
    expect(m).toMatchObject({ type: 'MSG', msgId: first.msgId, body: toBase64(bytes('hello')) });
    expect(await w.call({ type: 'ACK', corrId: 'a1', queueId: q.queueId, cred: q.recipientCred, msgId: m.msgId })).toMatchObject({ type: 'OK' });
    expect(await w.call({ type: 'GET', corrId: 'g2', queueId: q.queueId, cred: q.recipientCred })).toMatchObject({ type: 'ERR', code: 'PROTO_NO_MSG' });
    // Still remembered after the ACK: a late repeat stores nothing.
    expect(await w.call(sendFrame(q, 's4', 'hello', 'cid-1'))).toMatchObject({ type: 'OK', msgId: first.msgId, duplicate: true });
    expect(await w.call({ type: 'GET', corrId: 'g3', queueId: q.queueId, cred: q.recipientCred })).toMatchObject({ code: 'PROTO_NO_MSG' });
    // A SEND without clientId keeps the bare OK older clients expect.
    expect(await w.call(sendFrame(q, 's5', 'plain'))).toEqual({ type: 'OK', corrId: 's5' });
    expect(r.sendDedupeEntries()).toBe(1);
  });

  it('our transport: same clientId twice → one message; different clientIds → two; clientIds are per queue', async () => {
    const r = await start();
    const t = track(await client(r.url));
    const q = await t.createQueue();
    const q2 = await t.createQueue();
    const a = await t.sendWithResult(q.queueId, bytes('one'), { notification: false }, { clientId: 'A' });
    const a2 = await t.sendWithResult(q.queueId, bytes('one'), { notification: false }, { clientId: 'A' });
    expect(a.duplicate).toBe(false);
    expect(a2).toEqual({ msgId: a.msgId, duplicate: true });
    await t.send(q.queueId, bytes('two'), { notification: false }, { clientId: 'B' });
    // The same clientId on another queue is another message.
    await t.send(q2.queueId, bytes('other queue'), { notification: false }, { clientId: 'A' });
    expect(await drain(t, q.queueId)).toEqual(['one', 'two']);
    expect(await drain(t, q2.queueId)).toEqual(['other queue']);
  });

  it('survives a relay restart: a resend to the restarted relay stores nothing new', async () => {
    const r1 = await start();
    const c1 = await client(r1.url);
    const q = await c1.createQueue();
    const first = await c1.sendWithResult(q.queueId, bytes('before restart'), { notification: false }, { clientId: 'restart-1' });
    await c1.close();
    await r1.close();

    const r2 = await start();
    const c2 = track(await client(r2.url));
    c2.setQueueCreds(q.queueId, q);
    const again = await c2.sendWithResult(q.queueId, bytes('before restart'), { notification: false }, { clientId: 'restart-1' });
    expect(again).toEqual({ msgId: first.msgId, duplicate: true });
    expect(await drain(c2, q.queueId)).toEqual(['before restart']);
  });

  it('invalid clientId → PROTO_MALFORMED (raw and via the transport), nothing stored, the connection keeps serving', async () => {
    const r = await start();
    const w = await raw(r);
    const q = (await w.call({ type: 'NEW', corrId: 'n' })) as { queueId: string; senderCred: string; recipientCred: string };
    const bad: unknown[] = ['', 'x'.repeat(65), 'has space', 'dot.ted', 'ünï', 42, null, true, ['a'], { id: 'a' }];
    for (const [i, clientId] of bad.entries()) {
      const ans = await w.call(sendFrame(q, `b${i}`, 'bad', clientId));
      expect(ans, `clientId ${JSON.stringify(clientId)}`).toMatchObject({ type: 'ERR', code: 'PROTO_MALFORMED', corrId: `b${i}` });
    }
    // The longest valid one is accepted.
    expect(await w.call(sendFrame(q, 'ok', 'good', 'x'.repeat(64)))).toMatchObject({ type: 'OK', duplicate: false });
    const t = track(await client(r.url));
    t.setQueueCreds(q.queueId, q);
    const err = await t.send(q.queueId, bytes('bad'), { notification: false }, { clientId: 'no/slash' }).catch((e: unknown) => e);
    expect(isNsekitError(err, 'PROTO_MALFORMED')).toBe(true);
    expect(await drain(t, q.queueId)).toEqual(['good']);
  });

  it('OK lost (relay tap drops the socket after the commit): the resend is deduped; without clientId it duplicates', async () => {
    const r = await start();
    const seen: SendStoredEvent[] = [];
    r.setSendTap((e) => {
      seen.push(e);
      return seen.length === 1 || seen.length === 3 ? 'drop' : undefined;
    });
    const t1 = track(await client(r.url));
    const q = await t1.createQueue();
    const lost = await t1.send(q.queueId, bytes('once'), { notification: false }, { clientId: 'lost-1' }).catch((e: unknown) => e);
    expect(isNsekitError(lost, 'PROTO_CLOSED')).toBe(true);
    const t2 = track(await client(r.url));
    t2.setQueueCreds(q.queueId, q);
    expect(await t2.sendWithResult(q.queueId, bytes('once'), { notification: false }, { clientId: 'lost-1' })).toEqual({ msgId: seen[0]!.msgId, duplicate: true });
    expect(seen.map((e) => [e.clientId, e.duplicate])).toEqual([
      ['lost-1', false],
      ['lost-1', true],
    ]);
    expect(await drain(t2, q.queueId)).toEqual(['once']);

    // Control: the same loss without a clientId is the duplicate this feature removes.
    const t3 = track(await client(r.url));
    t3.setQueueCreds(q.queueId, q);
    expect(isNsekitError(await t3.send(q.queueId, bytes('twice'), { notification: false }).catch((e: unknown) => e), 'PROTO_CLOSED')).toBe(true);
    await t2.send(q.queueId, bytes('twice'), { notification: false });
    expect(await drain(t2, q.queueId)).toEqual(['twice', 'twice']);
  });

  it('window: an entry older than the window no longer dedupes; expired entries are cleaned up in bounded batches', async () => {
    const clock = new SimClock();
    const r = await start({ clock, sendDedupe: { windowMs: 1000, cleanupBatch: 2 } });
    const t = track(await client(r.url));
    const q = await t.createQueue();
    for (const id of ['e1', 'e2', 'e3', 'e4', 'e5']) await t.send(q.queueId, bytes(id), { notification: false }, { clientId: id });
    expect(r.sendDedupeEntries()).toBe(5);
    await clock.advance(999);
    expect((await t.sendWithResult(q.queueId, bytes('e1'), { notification: false }, { clientId: 'e1' })).duplicate).toBe(true);
    await clock.advance(1);
    // Expired: stored again, and this SEND removed 2 expired entries (e1's old one was replaced).
    expect((await t.sendWithResult(q.queueId, bytes('e1 again'), { notification: false }, { clientId: 'e1' })).duplicate).toBe(false);
    expect(r.sendDedupeEntries()).toBe(3);
    await t.send(q.queueId, bytes('f'), { notification: false }, { clientId: 'f' });
    expect(r.sendDedupeEntries()).toBe(2); // e1 (new) + f: the rest went 2 per SEND
    expect(await drain(t, q.queueId)).toEqual(['e1', 'e2', 'e3', 'e4', 'e5', 'e1 again', 'f']);
  });

  it('start-up sweep removes entries that expired while the relay was down', async () => {
    const clock = new SimClock();
    const r1 = await start({ clock, sendDedupe: { windowMs: 1000 } });
    const t1 = await client(r1.url);
    const q = await t1.createQueue();
    for (const id of ['s1', 's2', 's3']) await t1.send(q.queueId, bytes(id), { notification: false }, { clientId: id });
    await t1.close();
    await r1.close();
    await clock.advance(5000);
    const r2 = await start({ clock, sendDedupe: { windowMs: 1000 } });
    expect(r2.sendDedupeEntries()).toBe(0);
  });

  it('migration: a version-1 relay database keeps its queue and message and gains the dedupe table', async () => {
    // The schema as relays wrote it before idempotent SEND (user_version 1).
    const old = new Database(tmp.db);
    old.exec(`
      CREATE TABLE queues (queue_id TEXT PRIMARY KEY, recipient_cred_hash BLOB NOT NULL, sender_cred_hash BLOB NOT NULL,
        recipient_key BLOB, notifier_id TEXT UNIQUE, notifier_key BLOB, device_token TEXT, created_at INTEGER NOT NULL);
      CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, msg_id TEXT NOT NULL UNIQUE, queue_id TEXT NOT NULL,
        ts INTEGER NOT NULL, flags INTEGER NOT NULL, body BLOB NOT NULL);
      CREATE INDEX messages_by_queue ON messages (queue_id, seq);
      CREATE TABLE pending_ntfs (seq INTEGER PRIMARY KEY AUTOINCREMENT, token TEXT NOT NULL, queue_id TEXT NOT NULL,
        msg_id TEXT NOT NULL, notifier_id TEXT NOT NULL, sealed BLOB NOT NULL, created_at INTEGER NOT NULL);
      CREATE INDEX pending_by_token ON pending_ntfs (token, seq);
      PRAGMA user_version = 1;`);
    const q = { queueId: 'q0ld', recipientCred: 'rcpt', senderCred: 'sndr' };
    old.prepare('INSERT INTO queues (queue_id, recipient_cred_hash, sender_cred_hash, created_at) VALUES (?, ?, ?, 1)').run(q.queueId, credHash(q.recipientCred), credHash(q.senderCred));
    old.prepare('INSERT INTO messages (msg_id, queue_id, ts, flags, body) VALUES (?, ?, 1, 0, ?)').run('m0ld', q.queueId, Buffer.from('kept'));
    old.close();

    const r = await start();
    const t = track(await client(r.url));
    t.setQueueCreds(q.queueId, q);
    await t.send(q.queueId, bytes('new'), { notification: false }, { clientId: 'after-migration' });
    expect((await t.sendWithResult(q.queueId, bytes('new'), { notification: false }, { clientId: 'after-migration' })).duplicate).toBe(true);
    expect(await drain(t, q.queueId)).toEqual(['kept', 'new']);
    await r.close();
    const db = new Database(tmp.db, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(RELAY_SCHEMA_VERSION);
      expect(RELAY_SCHEMA_VERSION).toBeGreaterThanOrEqual(2); // later steps (3: push tokens) run after it
    } finally {
      db.close();
    }
  });
});
