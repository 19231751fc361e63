import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnvelopeKind, deriveKeyRing, open as openEnvelope, seal } from '../../src/core/crypto/index.js';
import type { Host, Lock, StoredMessage } from '../../src/core/host.js';
import { noFailpoints } from '../../src/core/host.js';
import { nodeClock, nodeRng, silentLog } from '../../src/node/host.js';
import { PendingInboxFile, encodeLine, encodeMarker, markerIds, readInbox } from '../../src/node/pending-inbox/index.js';
import { SharedStore } from '../../src/node/store/index.js';
import { MARKER_CARRY_MS } from '../../src/core/session/ports.js';

const host: Host = { clock: nodeClock, rng: nodeRng, log: silentLog, failpoints: noFailpoints };
/** In-process lock for unit tests (the mp tests use the real flock lock). */
const memLock = (): Lock => {
  let chain = Promise.resolve();
  let unlock: () => void = () => {};
  const l = {
    held: false,
    async acquire() {
      const prev = chain;
      chain = new Promise<void>((r) => (unlock = r));
      await prev;
      l.held = true;
      return { generation: 0, dirty: false };
    },
    async release() {
      l.held = false;
      unlock();
    },
  };
  return l;
};
const KEY = new Uint8Array(32).fill(3);
const keys = deriveKeyRing(KEY);
const MARKER = 'PLAINTEXT-MARKER-zq7x';

function sealedRecord(i: number, body = `${MARKER} message ${i}`): StoredMessage {
  const binding = { kind: EnvelopeKind.inboxRecord, recordId: `m${i}`, queueId: 'q1' };
  return {
    msgId: `m${i}`,
    queueId: 'q1',
    ts: 100 + i,
    flags: { notification: true },
    sealed: seal(keys.inbox, nodeRng, binding, new TextEncoder().encode(body)),
  };
}
/** The app's transform: open with the inbox key, re-seal with the at-rest body key. */
const reseal = (r: StoredMessage): StoredMessage => {
  const pt = openEnvelope(keys.inbox, { kind: EnvelopeKind.inboxRecord, recordId: r.msgId, queueId: r.queueId }, r.sealed);
  const sealed = seal(keys.body, nodeRng, { kind: EnvelopeKind.messageBody, recordId: r.msgId, queueId: r.queueId }, pt);
  return { ...r, sealed };
};

let dir: string;
let inboxPath: string;
let store: SharedStore;
beforeEach(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nsekit-inbox-'));
  inboxPath = path.join(dir, 'pending.jsonl');
  store = new SharedStore({ dbPath: path.join(dir, 'store.db'), lock: memLock(), host });
  store.open();
  await store.unlock(KEY);
});
afterEach(async () => {
  await store.close().catch(() => {});
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('PendingInboxFile', () => {
  it('appends one JSONL line per record and reads them back', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    for (let i = 0; i < 5; i++) await inbox.append(sealedRecord(i));
    const text = fs.readFileSync(inboxPath, 'utf8');
    expect(text.split('\n')).toHaveLength(6);
    const r = PendingInboxFile.read(inboxPath);
    expect(r.records.map((x) => x.msgId)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(r.torn).toBeNull();
    expect(r.bad).toEqual([]);
    expect(Buffer.from(r.records[2]!.sealed).toString('base64')).toBe(JSON.parse(text.split('\n')[2]!).sealed);
  });

  it('torn final line → INBOX_TORN_LINE reported, every complete line kept; next append is not swallowed', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    for (let i = 0; i < 3; i++) await inbox.append(sealedRecord(i));
    const full = encodeLine(sealedRecord(3));
    fs.appendFileSync(inboxPath, full.subarray(0, 40)); // crash mid-append
    let r = readInbox(inboxPath);
    expect(r.records.map((x) => x.msgId)).toEqual(['m0', 'm1', 'm2']);
    expect(r.torn).toMatchObject({ line: 4, bytes: 40, code: 'INBOX_TORN_LINE' });
    await inbox.append(sealedRecord(4));
    r = readInbox(inboxPath);
    expect(r.records.map((x) => x.msgId)).toEqual(['m0', 'm1', 'm2', 'm4']);
    expect(r.bad.map((b) => b.code)).toEqual(['INBOX_BAD_LINE']); // the old torn fragment, now terminated
    expect(r.torn).toBeNull();
  });

  it('malformed complete lines → INBOX_BAD_LINE each, the others kept', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    await inbox.append(sealedRecord(0));
    fs.appendFileSync(inboxPath, 'not json\n{"v":2,"msgId":"x"}\n{"v":1,"msgId":"y","queueId":"q","ts":1,"flags":0,"sealed":"@@"}\n');
    await inbox.append(sealedRecord(1));
    const r = readInbox(inboxPath);
    expect(r.records.map((x) => x.msgId)).toEqual(['m0', 'm1']);
    expect(r.bad.map((b) => [b.lineNo, b.code])).toEqual([
      [2, 'INBOX_BAD_LINE'],
      [3, 'INBOX_BAD_LINE'],
      [4, 'INBOX_BAD_LINE'],
    ]);
  });

  it('imports into the store (re-sealed), unlinks the claimed file, keeps rejects aside', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    for (let i = 0; i < 4; i++) await inbox.append(sealedRecord(i));
    fs.appendFileSync(inboxPath, 'garbage\n');
    const res = await inbox.importInto(store, { transform: reseal });
    expect(res).toMatchObject({ files: 1, records: 4, inserted: 4, duplicates: 0, bad: 1 });
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('pending.jsonl')).sort()).toEqual(['pending.jsonl.rejected']);
    const m2 = await store.readMessage('m2');
    expect(new TextDecoder().decode(m2!.body)).toBe(`${MARKER} message 2`);
  });

  it('import is idempotent: twice, and after a crash between commit and unlink → no duplicates', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    for (let i = 0; i < 3; i++) await inbox.append(sealedRecord(i));
    // Crash right after the store commit, before the unlink.
    const crashing = new PendingInboxFile(inboxPath, {
      ...host,
      failpoints: { hit: (n) => { if (n === 'inbox.import.committed') throw new Error('crash'); } },
    });
    await expect(crashing.importInto(store, { transform: reseal })).rejects.toThrow('crash');
    expect(await store.countMessages()).toBe(3);
    expect(fs.readdirSync(dir).some((n) => n.includes('.importing.'))).toBe(true);
    // New records arrive at the original path meanwhile.
    await inbox.append(sealedRecord(2));
    await inbox.append(sealedRecord(3));
    const res = await inbox.importInto(store, { transform: reseal });
    expect(res).toMatchObject({ files: 2, records: 5, inserted: 1, duplicates: 4 });
    expect(await inbox.importInto(store, { transform: reseal })).toMatchObject({ files: 0, inserted: 0 });
    expect(await store.listMessageIds()).toEqual(['m0', 'm1', 'm2', 'm3']);
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('pending'))).toEqual([]);
  });

  it('a record the transform rejects (tampered) is set aside, the rest imported', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    const bad = sealedRecord(1);
    bad.sealed[40]! ^= 1;
    await inbox.append(sealedRecord(0));
    await inbox.append(bad);
    await inbox.append(sealedRecord(2));
    const res = await inbox.importInto(store, { transform: reseal });
    expect(res).toMatchObject({ inserted: 2, rejected: 1 });
    expect(await store.listMessageIds()).toEqual(['m0', 'm2']);
    expect(readInbox(`${inboxPath}.rejected`).records.map((r) => r.msgId)).toEqual(['m1']);
  });

  it('a transient transform failure (store locked) aborts the import and keeps the claimed file', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    for (let i = 0; i < 3; i++) await inbox.append(sealedRecord(i));
    store.lockDevice();
    const viaStoreKey = async (r: StoredMessage) => {
      const plain = await store.readMessage('probe'); // throws STORE_LOCKED while locked
      return plain ? r : reseal(r);
    };
    await expect(inbox.importInto(store, { transform: viaStoreKey })).rejects.toMatchObject({ code: 'STORE_LOCKED' });
    expect(fs.existsSync(`${inboxPath}.rejected`)).toBe(false);
    expect(fs.readdirSync(dir).filter((n) => n.includes('.importing.'))).toHaveLength(1);
    await store.unlock(KEY);
    expect(await inbox.importInto(store, { transform: viaStoreKey })).toMatchObject({ inserted: 3, rejected: 0 });
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('pending'))).toEqual([]);
  });

  it('notified markers: one line each, next to records, read back as markers (not INBOX_BAD_LINE); a second mark answers false', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    await inbox.append(sealedRecord(0));
    expect(await inbox.isNotified('m0')).toBe(false);
    expect(await inbox.markNotified('m0', 'q1')).toBe(true);
    await inbox.append(sealedRecord(1));
    await inbox.append(sealedRecord(0)); // a re-fetch appends the record again…
    expect(await inbox.markNotified('m0', 'q1')).toBe(false); // …but is not marked twice
    expect(await inbox.isNotified('m0')).toBe(true);
    expect(await inbox.isNotified('m1')).toBe(false);
    const lines = fs.readFileSync(inboxPath, 'utf8').split('\n');
    expect(lines[1]).toBe('{"v":1,"msgId":"m0","queueId":"q1","notified":true}');
    const r = readInbox(inboxPath);
    expect(r.records.map((x) => x.msgId)).toEqual(['m0', 'm1', 'm0']);
    expect(r.markers).toEqual([{ msgId: 'm0', queueId: 'q1' }]);
    expect(r.bad).toEqual([]);
    expect(r.torn).toBeNull();
  });

  it('a torn marker line is not a marker: reported torn, the mark is retried and the next line is not swallowed', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    await inbox.append(sealedRecord(0));
    fs.appendFileSync(inboxPath, encodeMarker({ msgId: 'm0', queueId: 'q1' }).subarray(0, 30)); // crash mid-append
    let r = readInbox(inboxPath);
    expect(r.markers).toEqual([]);
    expect(r.torn).toMatchObject({ line: 2, bytes: 30, code: 'INBOX_TORN_LINE' });
    expect(markerIds(fs.readFileSync(inboxPath)).size).toBe(0);
    expect(await inbox.isNotified('m0')).toBe(false);
    expect(await inbox.markNotified('m0', 'q1')).toBe(true);
    r = readInbox(inboxPath);
    expect(r.markers.map((k) => k.msgId)).toEqual(['m0']);
    expect(r.bad.map((b) => [b.lineNo, b.code])).toEqual([[2, 'INBOX_BAD_LINE']]); // the old fragment, now terminated
    expect(r.torn).toBeNull();
  });

  it('malformed marker lines are INBOX_BAD_LINE; a record line is never taken for a marker', async () => {
    fs.writeFileSync(
      inboxPath,
      [
        '{"v":1,"msgId":"a","queueId":"q","notified":false}',
        '{"v":1,"msgId":"b","queueId":"q","notified":true,"sealed":"AAAA"}',
        '{"v":1,"msgId":"","queueId":"q","notified":true}',
        encodeLine({ ...sealedRecord(0), msgId: '"notified":true' }).toString().trimEnd(),
        '{"v":1,"msgId":"ok","queueId":"q","notified":true}',
        '',
      ].join('\n'),
    );
    const r = readInbox(inboxPath);
    expect(r.bad.map((b) => [b.lineNo, b.reason])).toEqual([
      [1, 'bad marker'],
      [2, 'bad marker'],
      [3, 'bad msgId'],
    ]);
    expect(r.records.map((x) => x.msgId)).toEqual(['"notified":true']);
    expect(r.markers.map((k) => k.msgId)).toEqual(['ok']);
    expect([...markerIds(fs.readFileSync(inboxPath))]).toEqual(['ok']);
  });

  it('import moves markers into the store\'s notifications in the records\' transaction; they are carried on until MARKER_CARRY_MS', async () => {
    const clock = { t: 1_000_000 };
    const inbox = new PendingInboxFile(inboxPath, { ...host, clock: { ...nodeClock, now: () => clock.t } });
    await inbox.append(sealedRecord(0));
    await inbox.markNotified('m0', 'q1');
    await inbox.append(sealedRecord(0));
    await inbox.append(sealedRecord(1)); // no marker: nothing was shown for it
    await inbox.markNotified('m9', 'q1'); // a marker whose record went to an earlier import
    const res = await inbox.importInto(store, { transform: reseal });
    expect(res).toMatchObject({ files: 1, records: 3, markers: 2, carried: 2, inserted: 2, duplicates: 1, bad: 0 });
    // The claim is gone; the live file holds only the two markers, carried (no records).
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('pending'))).toEqual(['pending.jsonl']);
    expect(readInbox(inboxPath)).toMatchObject({ records: [], markers: [{ msgId: 'm0', carried: true }, { msgId: 'm9', carried: true }] });
    expect(await store.markNotified('m0')).toBe(false); // recorded in the store
    expect(await store.markNotified('m9')).toBe(false);
    expect(await store.markNotified('m1')).toBe(true);
    expect(readInbox(inboxPath).markers.map((k) => k.at)).toEqual([clock.t, clock.t]); // first carried now
    // A later import (within the window) stores them again and carries them on, `at` kept.
    clock.t += MARKER_CARRY_MS - 1;
    expect(await inbox.importInto(store, { transform: reseal })).toMatchObject({ files: 1, records: 0, markers: 2, carried: 2 });
    expect(readInbox(inboxPath).markers.map((k) => k.at)).toEqual([1_000_000, 1_000_000]);
    expect(await inbox.isNotified('m0')).toBe(true);
    // Once MARKER_CARRY_MS have passed since first carried: stored again and dropped; nothing left on disk.
    clock.t += 1;
    expect(await inbox.importInto(store, { transform: reseal })).toMatchObject({ files: 1, records: 0, markers: 2, carried: 0 });
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('pending'))).toEqual([]);
    expect(await inbox.isNotified('m0')).toBe(false);
  });

  it('markers alone (no records) are imported; a marker in an unfinished claim still counts', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    await inbox.markNotified('m0', 'q1');
    const crashing = new PendingInboxFile(inboxPath, {
      ...host,
      failpoints: { hit: (n) => { if (n === 'inbox.import.committed') throw new Error('crash'); } },
    });
    await expect(crashing.importInto(store)).rejects.toThrow('crash');
    expect(fs.readdirSync(dir).filter((n) => n.startsWith('pending.jsonl.importing.'))).toHaveLength(1); // the leftover claim, with the marker
    expect(await inbox.isNotified('m0')).toBe(true);
    // The crashed import carried the marker before its commit: the live file has it, carried.
    expect(readInbox(inboxPath).markers).toMatchObject([{ msgId: 'm0', queueId: 'q1', carried: true }]);
    expect(await inbox.markNotified('m0', 'q1')).toBe(false);
    expect(readInbox(inboxPath).markers).toHaveLength(1); // …and markNotified wrote nothing
    // Leftover claim (own marker: carried again into the fresh file) + the live file (its carried m0: already there).
    expect(await inbox.importInto(store)).toMatchObject({ files: 2, records: 0, markers: 2, carried: 1 });
    expect(await store.markNotified('m0')).toBe(false);
    expect(readInbox(inboxPath).markers).toMatchObject([{ msgId: 'm0', queueId: 'q1', carried: true }]);
  });

  /** The store as importInto sees it, recording the `notified` ids of each transaction. */
  const recording = () => {
    const calls: string[][] = [];
    return {
      calls,
      target: { putMessages: (ms: StoredMessage[], notified: readonly string[] = []) => (calls.push([...notified]), store.putMessages(ms, notified)) },
    };
  };
  const crashAt = (fp: string) => new PendingInboxFile(inboxPath, { ...host, failpoints: { hit: (n) => { if (n === fp) throw new Error(`crash at ${n}`); } } });
  const pendingFiles = () => fs.readdirSync(dir).filter((n) => n.startsWith('pending.jsonl')).map((n) => n.replace(/importing\..*/, 'importing.*')).sort();

  it('carried markers: refused by markNotified across imports while young (a message shown, then fetched again locked after two imports); dropped once old', async () => {
    const clock = { t: 5_000 };
    const inbox = new PendingInboxFile(inboxPath, { ...host, clock: { ...nodeClock, now: () => clock.t } });
    await inbox.append(sealedRecord(0));
    expect(await inbox.markNotified('m0', 'q1')).toBe(true); // processing A, locked
    const rec = recording();
    // Unlock: import 1.
    expect(await inbox.importInto(rec.target, { transform: reseal })).toMatchObject({ files: 1, records: 1, markers: 1, carried: 1, inserted: 1 });
    expect(fs.readFileSync(inboxPath, 'utf8')).toBe('{"v":1,"msgId":"m0","queueId":"q1","notified":true,"carried":true,"at":5000}\n');
    // Locked again; processing B of the same message (began locked) and a new message m1.
    expect(await inbox.isNotified('m0')).toBe(true);
    expect(await inbox.markNotified('m0', 'q1')).toBe(false); // no second generic notification
    expect(await inbox.markNotified('m1', 'q1')).toBe(true);
    expect(readInbox(inboxPath).markers).toEqual([
      { msgId: 'm0', queueId: 'q1', carried: true, at: 5_000 },
      { msgId: 'm1', queueId: 'q1' },
    ]);
    // Unlock an hour later: import 2 stores m0 again (idempotent) with the new m1 and carries both.
    clock.t += 3_600_000;
    expect(await inbox.importInto(rec.target, { transform: reseal })).toMatchObject({ files: 1, records: 0, markers: 2, carried: 2 });
    expect(rec.calls).toEqual([['m0'], ['m0', 'm1']]);
    expect(readInbox(inboxPath).markers).toEqual([
      { msgId: 'm0', queueId: 'q1', carried: true, at: 5_000 },
      { msgId: 'm1', queueId: 'q1', carried: true, at: 3_605_000 },
    ]);
    // Import 3 right after: still young, still carried — a locked re-fetch of m0 now finds its marker.
    expect(await inbox.importInto(rec.target, { transform: reseal })).toMatchObject({ files: 1, markers: 2, carried: 2 });
    expect(await inbox.markNotified('m0', 'q1')).toBe(false);
    // Import 4, a day after m0 was first carried: m0 dropped, m1 (carried an hour later) kept.
    clock.t = 5_000 + MARKER_CARRY_MS;
    expect(await inbox.importInto(rec.target, { transform: reseal })).toMatchObject({ files: 1, markers: 2, carried: 1 });
    expect(readInbox(inboxPath).markers.map((k) => k.msgId)).toEqual(['m1']);
    expect(await inbox.isNotified('m0')).toBe(false);
    // Import 5, past m1's window too: nothing left on disk.
    clock.t = 3_605_000 + MARKER_CARRY_MS;
    expect(await inbox.importInto(rec.target, { transform: reseal })).toMatchObject({ files: 1, markers: 1, carried: 0 });
    expect(pendingFiles()).toEqual([]);
    expect(await store.markNotified('m0')).toBe(false);
    expect(await store.markNotified('m1')).toBe(false);
  });

  it('a crash between the carry and the claim\'s deletion loses no marker; repeated crashes do not multiply carried lines', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    await inbox.append(sealedRecord(0));
    await inbox.markNotified('m0', 'q1');
    await inbox.markNotified('m1', 'q1');
    // Crash 1: right after the carry, before the store commit.
    await expect(crashAt('inbox.import.carried').importInto(store, { transform: reseal })).rejects.toThrow('crash at inbox.import.carried');
    expect(pendingFiles()).toEqual(['pending.jsonl', 'pending.jsonl.importing.*']);
    expect(readInbox(inboxPath).markers.map((k) => [k.msgId, k.carried])).toEqual([['m0', true], ['m1', true]]);
    expect(await inbox.markNotified('m0', 'q1')).toBe(false);
    expect(await inbox.markNotified('m1', 'q1')).toBe(false);
    // Crash 2: after the commit, before the unlink. The live file (carried lines) is claimed too;
    // the leftover claim (processed first) carries its own markers into a fresh live file.
    await expect(crashAt('inbox.import.committed').importInto(store, { transform: reseal })).rejects.toThrow('crash at inbox.import.committed');
    expect(pendingFiles()).toEqual(['pending.jsonl', 'pending.jsonl.importing.*', 'pending.jsonl.importing.*']);
    expect(readInbox(inboxPath).markers.map((k) => k.msgId)).toEqual(['m0', 'm1']);
    expect(await inbox.markNotified('m0', 'q1')).toBe(false);
    // A clean import: every claim finished; each id is carried once into the fresh file (not multiplied).
    const res = await inbox.importInto(store, { transform: reseal });
    expect(res).toMatchObject({ files: 3, records: 1, inserted: 0, duplicates: 1, carried: 2 }); // inserted before crash 2
    expect(pendingFiles()).toEqual(['pending.jsonl']);
    expect(readInbox(inboxPath).markers).toMatchObject([
      { msgId: 'm0', queueId: 'q1', carried: true },
      { msgId: 'm1', queueId: 'q1', carried: true },
    ]);
    expect(await store.markNotified('m0')).toBe(false);
    expect(await store.markNotified('m1')).toBe(false);
    expect(await store.countMessages()).toBe(1);
  });

  it('carried marker lines: a torn one is INBOX_TORN_LINE and marks nothing; malformed ones are INBOX_BAD_LINE', async () => {
    const carried = encodeMarker({ msgId: 'm0', queueId: 'q1', carried: true });
    expect(carried.toString()).toBe('{"v":1,"msgId":"m0","queueId":"q1","notified":true,"carried":true}\n');
    // A torn carried line alone (a crash mid-carry): not a marker.
    fs.writeFileSync(inboxPath, carried.subarray(0, carried.length - 8));
    const inbox = new PendingInboxFile(inboxPath, host);
    let r = readInbox(inboxPath);
    expect(r.markers).toEqual([]);
    expect(r.torn).toMatchObject({ line: 1, bytes: carried.length - 8, code: 'INBOX_TORN_LINE' });
    expect(markerIds(fs.readFileSync(inboxPath)).size).toBe(0);
    expect(await inbox.isNotified('m0')).toBe(false);
    expect(await inbox.markNotified('m0', 'q1')).toBe(true); // not swallowed by the fragment
    r = readInbox(inboxPath);
    expect(r.markers).toEqual([{ msgId: 'm0', queueId: 'q1' }]);
    expect(r.bad.map((b) => [b.lineNo, b.code])).toEqual([[1, 'INBOX_BAD_LINE']]);
    // Malformed carried lines.
    fs.writeFileSync(
      inboxPath,
      [
        '{"v":1,"msgId":"a","queueId":"q","notified":true,"carried":false}',
        '{"v":1,"msgId":"b","queueId":"q","notified":true,"carried":"yes"}',
        '{"v":1,"msgId":"c","queueId":"q","carried":true,"sealed":"AAAA","notified":true}',
        '{"v":1,"msgId":"d","queueId":"q","carried":true}',
        '{"v":1,"msgId":"ok","queueId":"q","notified":true,"carried":true}',
        '',
      ].join('\n'),
    );
    r = readInbox(inboxPath);
    expect(r.bad.map((b) => [b.lineNo, b.reason])).toEqual([
      [1, 'bad marker'],
      [2, 'bad marker'],
      [3, 'bad marker'],
      [4, 'bad ts'],
    ]);
    expect(r.markers).toEqual([{ msgId: 'ok', queueId: 'q', carried: true }]);
    expect([...markerIds(fs.readFileSync(inboxPath))]).toEqual(['ok']);
  });

  it('a crash mid-carry (torn carried line) loses nothing: the claim still has the marker and is carried again', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    await inbox.markNotified('m0', 'q1');
    await expect(crashAt('inbox.import.carried').importInto(store)).rejects.toThrow('crash');
    fs.truncateSync(inboxPath, fs.statSync(inboxPath).size - 5); // the carried line's write was torn
    expect(readInbox(inboxPath)).toMatchObject({ markers: [], torn: { line: 1, code: 'INBOX_TORN_LINE' } });
    expect(await inbox.isNotified('m0')).toBe(true); // the leftover claim still has it
    expect(await inbox.markNotified('m0', 'q1')).toBe(false);
    const res = await inbox.importInto(store);
    expect(res).toMatchObject({ files: 2, markers: 1, carried: 1, torn: 1 });
    expect(readInbox(inboxPath)).toMatchObject({ markers: [{ msgId: 'm0', carried: true }], torn: null, bad: [] });
    expect(fs.readFileSync(`${inboxPath}.rejected`, 'utf8')).toMatch(/^\{"v":1,"msgId":"m0".*\n$/); // the fragment, kept aside
    expect(await store.markNotified('m0')).toBe(false);
  });

  it('no plaintext anywhere: DB, -wal, -shm and inbox bytes never contain the marker', async () => {
    const inbox = new PendingInboxFile(inboxPath, host);
    for (let i = 0; i < 20; i++) await store.putPlainMessage({ ...sealedRecord(i), msgId: `s${i}`, body: new TextEncoder().encode(`${MARKER} stored ${i}`) });
    for (let i = 0; i < 20; i++) await inbox.append(sealedRecord(i));
    const marker = Buffer.from(MARKER);
    const files = ['store.db', 'store.db-wal', 'store.db-shm', 'pending.jsonl'].map((n) => path.join(dir, n));
    const scanned: string[] = [];
    for (const f of files) {
      if (!fs.existsSync(f)) continue;
      const b = fs.readFileSync(f);
      scanned.push(`${path.basename(f)}:${b.length > 0}`);
      expect(b.includes(marker), f).toBe(false);
      expect(b.includes(Buffer.from(MARKER, 'utf16le')), f).toBe(false);
    }
    expect(scanned).toContain('store.db-wal:true'); // the rows really were in the WAL when scanned
    expect(scanned).toContain('pending.jsonl:true');
    // Sanity: the scan would have found it had it been stored in the clear.
    expect(Buffer.from(`x${MARKER}y`).includes(marker)).toBe(true);
    await inbox.importInto(store, { transform: reseal });
    await store.close();
    const db = fs.readFileSync(path.join(dir, 'store.db'));
    expect(db.includes(marker)).toBe(false);
    expect(await (store.open(), store.countMessages())).toBe(40);
  });
});
