import fs from 'node:fs';
import path from 'node:path';
import { NsekitError } from '../../core/errors.js';
import type { Host, PendingInbox, StoredMessage } from '../../core/host.js';
import { tryFlock, unflock } from './flock.js';
import { encodeLine, readInbox } from './record.js';
import type { InboxReadResult } from './record.js';

/** What importInto needs from the store: a batched, deduping, durable insert. */
export interface InboxImportTarget {
  putMessages(ms: StoredMessage[]): Promise<number>;
}

export interface ImportOptions {
  /**
   * Re-seal a record for the store (e.g. inbox key → body key). Default: store as is.
   * A CRYPTO_* error sets that record aside (`.rejected`); any other error aborts the import.
   */
  transform?: (r: StoredMessage) => StoredMessage | Promise<StoredMessage>;
  /** Records per store transaction (default 500). */
  batchSize?: number;
  /** How long to wait for in-flight appenders to finish (default 5000 ms) → INBOX_IO. */
  timeoutMs?: number;
}

export interface ImportResult {
  files: number;
  records: number;
  inserted: number;
  duplicates: number;
  torn: number;
  bad: number;
  rejected: number;
}

/**
 * Append-only JSONL of sealed envelopes, for when the store is locked.
 * Each append: open(O_APPEND) → shared flock → check the path still names
 * this inode (else the importer claimed it: retry) → one write() → fsync.
 */
export class PendingInboxFile implements PendingInbox {
  private claimSeq = 0;
  constructor(
    readonly path: string,
    private readonly host: Host,
    private readonly opts: { timeoutMs?: number } = {},
  ) {}

  static read(p: string): InboxReadResult {
    return readInbox(p);
  }

  async append(m: StoredMessage): Promise<void> {
    const line = encodeLine(m);
    const fp = this.host.failpoints.hit('inbox.append', { msgId: m.msgId });
    if (fp) await fp;
    const deadline = this.host.clock.now() + (this.opts.timeoutMs ?? 5000);
    for (let attempt = 0; ; attempt++) {
      const fd = this.io(() => fs.openSync(this.path, 'a+', 0o600), 'open');
      try {
        if (!tryFlock(fd, 'sh')) {
          await this.backoff(attempt, deadline, 'append waited too long for an import barrier');
          continue;
        }
        if (!sameInode(fd, this.path)) continue; // claimed by an importer between open and lock
        this.io(() => {
          const size = fs.fstatSync(fd).size;
          // A torn tail from a crashed appender must not swallow this record.
          const prefix = size > 0 && lastByte(fd, size) !== 0x0a;
          fs.writeSync(fd, prefix ? Buffer.concat([Buffer.from('\n'), line]) : line);
          fs.fsyncSync(fd);
        }, 'append');
        return;
      } finally {
        fs.closeSync(fd); // also drops the flock
      }
    }
  }

  read(): InboxReadResult {
    return readInbox(this.path);
  }

  /**
   * Crash-safe, idempotent import: first any file claimed by an earlier
   * (crashed) import, then claim the live file by rename, wait out in-flight
   * appenders, insert with dedupe, and unlink only after the store commit.
   */
  async importInto(store: InboxImportTarget, opts: ImportOptions = {}): Promise<ImportResult> {
    const total: ImportResult = { files: 0, records: 0, inserted: 0, duplicates: 0, torn: 0, bad: 0, rejected: 0 };
    const claimed = this.leftoverClaims();
    // Unique per claim: a rename onto an older leftover claim would destroy it.
    const tag = Buffer.from(this.host.rng.randomBytes(6)).toString('hex');
    const mine = `${this.path}.importing.${process.pid}.${++this.claimSeq}.${tag}`;
    try {
      fs.renameSync(this.path, mine);
      claimed.push(mine);
      this.log('info', 'inbox claimed', { file: path.basename(mine) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw this.ioError(e, 'claim');
    }
    for (const f of claimed) await this.importClaimed(f, store, opts, total);
    if (total.files) this.log('info', 'inbox imported', { ...total });
    return total;
  }

  private async importClaimed(f: string, store: InboxImportTarget, opts: ImportOptions, total: ImportResult) {
    await this.barrier(f, opts.timeoutMs ?? 5000);
    const r = readInbox(f);
    const rejected: Buffer[] = r.bad.map((b) => b.raw);
    if (r.torn) rejected.push(r.torn.raw);
    const out: StoredMessage[] = [];
    for (const rec of r.records) {
      try {
        out.push(opts.transform ? await opts.transform(rec) : rec);
      } catch (e) {
        // Only a record that can never open is set aside. Anything else (store locked or
        // closed, a bug) aborts: the claimed file stays and the next import retries it.
        if (!(e instanceof NsekitError && e.code.startsWith('CRYPTO_'))) throw e;
        this.log('warn', 'inbox record rejected by transform', { msgId: rec.msgId, error: String(e) });
        rejected.push(encodeLine(rec).subarray(0, -1));
        total.rejected++;
      }
    }
    const size = opts.batchSize ?? 500;
    for (let i = 0; i < out.length; i += size) {
      const n = await store.putMessages(out.slice(i, i + size));
      total.inserted += n;
      total.duplicates += Math.min(size, out.length - i) - n;
    }
    const fp = this.host.failpoints.hit('inbox.import.committed', { file: path.basename(f) });
    if (fp) await fp;
    if (rejected.length) {
      // Keep what we could not import for forensics; never silently dropped.
      fs.appendFileSync(`${this.path}.rejected`, Buffer.concat(rejected.flatMap((b) => [b, Buffer.from('\n')])));
      for (const b of r.bad) this.log('warn', 'inbox bad line', { lineNo: b.lineNo, reason: b.reason, code: b.code });
      if (r.torn) this.log('warn', 'inbox torn line', { line: r.torn.line, bytes: r.torn.bytes, code: r.torn.code });
    }
    try {
      fs.unlinkSync(f);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw this.ioError(e, 'unlink'); // another importer finished it
    }
    total.files++;
    total.records += r.records.length;
    total.torn += r.torn ? 1 : 0;
    total.bad += r.bad.length;
  }

  /** After the exclusive flock is granted, no appender can still write to the claimed inode. */
  private async barrier(f: string, timeoutMs: number): Promise<void> {
    let fd: number;
    try {
      fd = fs.openSync(f, 'r');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw this.ioError(e, 'barrier');
    }
    const deadline = this.host.clock.now() + timeoutMs;
    try {
      for (let attempt = 0; !tryFlock(fd, 'ex'); attempt++) {
        await this.backoff(attempt, deadline, 'an appender held the inbox file too long');
      }
      unflock(fd);
    } finally {
      fs.closeSync(fd);
    }
  }

  private leftoverClaims(): string[] {
    const dir = path.dirname(this.path);
    const prefix = `${path.basename(this.path)}.importing.`;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (e) {
      throw this.ioError(e, 'readdir');
    }
    return names.filter((n) => n.startsWith(prefix)).sort().map((n) => path.join(dir, n));
  }

  private async backoff(attempt: number, deadline: number, why: string): Promise<void> {
    if (this.host.clock.now() >= deadline) throw new NsekitError('INBOX_IO', why, { path: this.path });
    const ms = Math.min(50, 1 << Math.min(attempt, 6));
    await new Promise<void>((res) => this.host.clock.setTimer(ms, res));
  }

  private io<T>(fn: () => T, op: string): T {
    try {
      return fn();
    } catch (e) {
      throw this.ioError(e, op);
    }
  }

  private ioError(e: unknown, op: string): NsekitError {
    if (e instanceof NsekitError) return e;
    return new NsekitError('INBOX_IO', `${op} ${this.path}: ${(e as Error).message}`, {
      path: this.path,
      errno: (e as NodeJS.ErrnoException).code,
    });
  }

  private log(level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>): void {
    this.host.log.log(level, 'inbox', msg, fields);
  }
}

function sameInode(fd: number, p: string): boolean {
  try {
    const a = fs.fstatSync(fd);
    const b = fs.statSync(p);
    return a.ino === b.ino && a.dev === b.dev;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function lastByte(fd: number, size: number): number {
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, size - 1);
  return b[0]!;
}
