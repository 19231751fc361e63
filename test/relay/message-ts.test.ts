import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayDb } from '../../src/relay/db.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function open(dir = mkdtempSync(join(tmpdir(), 'nsekit-relay-ts-'))): { db: RelayDb; dir: string } {
  dirs.push(dir);
  return { db: new RelayDb(join(dir, 'relay.db')), dir };
}

describe('message ts (src/relay/db.ts nextTs): the clock, always after the previous message', () => {
  it('two sends in one millisecond get two increasing ts; a later clock reading is taken as is', () => {
    const { db } = open();
    expect([db.nextTs(1000), db.nextTs(1000), db.nextTs(1000.7), db.nextTs(999), db.nextTs(2000)]).toEqual([1000, 1001, 1002, 1003, 2000]);
    db.close();
  });
  it('after a restart it starts past the newest message still stored', () => {
    const { db, dir } = open();
    db.createQueue({ queueId: 'q', recipientCred: 'r', senderCred: 's', recipientKey: null, now: 1 });
    db.insertMessage({ msgId: 'm', queueId: 'q', ts: db.nextTs(5000), notification: true, body: new Uint8Array(1) });
    db.close();
    const again = open(dir).db;
    expect(again.nextTs(4000)).toBe(5001);
    again.close();
  });
});
