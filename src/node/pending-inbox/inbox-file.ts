import fs from 'node:fs';
import path from 'node:path';
import { NsekitError } from '../../core/errors.js';
import type { Host, PendingInbox, StoredMessage } from '../../core/host.js';
import { tryFlock, unflock } from './flock.js';
import { encodeLine, encodeMarker, markerIds, readInbox } from './record.js';
import type { InboxMarker, InboxReadResult } from './record.js';

// The import's contract is the session port's (src/core/session/ports.ts): one definition.
// Durable means synced: the claimed file is unlinked once putMessages resolves (SharedStore:
// synchronous=FULL, its default).
export type { ImportOptions, ImportResult, InboxImportTarget } from '../../core/session/ports.js';
import { emptyImportResult, MARKER_CARRY_MS, type ImportOptions, type ImportResult, type InboxImportTarget } from '../../core/session/ports.js';

/**
 * Append-only JSONL of sealed envelopes (and `notified` markers), for when the store is locked.
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
    await this.locked('sh', 'append waited too long for an import barrier', (fd) => this.write(fd, line));
  }

  /**
   * Append a `notified` marker unless one exists (false = already marked). Exclusive flock on the
   * live file: the scan and the append are one step for every process, like Store.markNotified
   * under the store lock. Markers in unfinished claims count too (their import is still to come),
   * and so do carried markers (imported already, kept in sight of locked processes one more cycle).
   */
  async markNotified(msgId: string, queueId: string): Promise<boolean> {
    return this.locked('ex', 'marker waited too long for the inbox flock', (fd) => {
      if (this.io(() => markerIds(readFd(fd)), 'scan').has(msgId) || this.claimsMark(msgId)) return false;
      this.write(fd, encodeMarker({ msgId, queueId }));
      return true;
    });
  }

  /** Read-only: is there a marker for msgId in the live file or an unfinished claim? */
  async isNotified(msgId: string): Promise<boolean> {
    if (this.claimsMark(msgId)) return true;
    const marked = await this.locked(
      'sh',
      'marker scan waited too long for the inbox flock',
      (fd) => this.io(() => markerIds(readFd(fd)), 'scan').has(msgId),
      'r',
    );
    return marked === true;
  }

  /**
   * Run `fn` with the live file open and flocked (`mode`), retrying when an importer claimed the
   * inode between open and lock. The flock is held only across synchronous calls.
   */
  private async locked<T>(mode: 'sh' | 'ex', why: string, fn: (fd: number) => T): Promise<T>;
  /** Read-only (`'r'`): null when there is no live file. */
  private async locked<T>(mode: 'sh', why: string, fn: (fd: number) => T, flags: 'r'): Promise<T | null>;
  private async locked<T>(mode: 'sh' | 'ex', why: string, fn: (fd: number) => T, flags: 'a+' | 'r' = 'a+'): Promise<T | null> {
    const deadline = this.host.clock.now() + (this.opts.timeoutMs ?? 5000);
    for (let attempt = 0; ; attempt++) {
      const fd = this.openLive(flags);
      if (fd === null) return null;
      try {
        if (!tryFlock(fd, mode)) {
          await this.backoff(attempt, deadline, why);
          continue;
        }
        if (!sameInode(fd, this.path)) continue; // claimed by an importer between open and lock
        return fn(fd);
      } finally {
        fs.closeSync(fd); // also drops the flock
      }
    }
  }

  private openLive(flags: 'a+' | 'r'): number | null {
    try {
      return fs.openSync(this.path, flags, 0o600);
    } catch (e) {
      if (flags === 'r' && (e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw this.ioError(e, 'open');
    }
  }

  private write(fd: number, line: Buffer): void {
    this.io(() => {
      const size = fs.fstatSync(fd).size;
      // A torn tail from a crashed appender must not swallow this line.
      const prefix = size > 0 && lastByte(fd, size) !== 0x0a;
      fs.writeSync(fd, prefix ? Buffer.concat([Buffer.from('\n'), line]) : line);
      fs.fsyncSync(fd);
      // First line of a file created by this open (after an import claimed the old one): the fsync
      // above covers the data, not the directory entry — without this a power cut could lose the
      // whole new file although append() resolved. Once per file, so cheap.
      if (size === 0) fsyncDir(path.dirname(this.path));
    }, 'append');
  }

  /** Claimed files are no longer appended to once their barrier passed; a read without a flock is fine. */
  private claimsMark(msgId: string): boolean {
    return this.leftoverClaims().some((f) => {
      try {
        return markerIds(fs.readFileSync(f)).has(msgId);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false; // imported meanwhile
        throw this.ioError(e, 'scan');
      }
    });
  }

  read(): InboxReadResult {
    return readInbox(this.path);
  }

  /**
   * Crash-safe, idempotent import: first any file claimed by an earlier
   * (crashed) import, then claim the live file by rename, wait out in-flight
   * appenders, insert with dedupe, and unlink only after the store commit is synced
   * (`putMessages` resolves after a COMMIT under the store's default synchronous=FULL).
   */
  async importInto(store: InboxImportTarget, opts: ImportOptions = {}): Promise<ImportResult> {
    const total: ImportResult = emptyImportResult();
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
    total.carried += await this.carry(r.markers);
    const fpc = this.host.failpoints.hit('inbox.import.carried', { file: path.basename(f) });
    if (fpc) await fpc;
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
    // Markers (carried ones again: idempotent) ride with the first batch: no imported row is ever
    // without its notified mark.
    const notified = [...new Set(r.markers.map((k) => k.msgId))];
    for (let i = 0; i < out.length || (i === 0 && notified.length); i += size) {
      const n = await store.putMessages(out.slice(i, i + size), i === 0 ? notified : []);
      total.inserted += n;
      total.duplicates += Math.min(size, out.length - i) - n;
    }
    const fp = this.host.failpoints.hit('inbox.import.committed', { file: path.basename(f) });
    if (fp) await fp;
    if (rejected.length) {
      // Keep what we could not import for forensics; never silently dropped. Synced before the claim
      // is unlinked below, like the store commit (putMessages resolves only after a synced COMMIT).
      const rf = `${this.path}.rejected`;
      this.io(() => appendSynced(rf, Buffer.concat(rejected.flatMap((b) => [b, Buffer.from('\n')]))), 'reject');
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
    total.markers += r.markers.length;
    total.torn += r.torn ? 1 : 0;
    total.bad += r.bad.length;
  }

  /**
   * Copy a claim's markers into the live file as carried markers, so a process that is locked
   * again after this import — the store's `notifications` out of reach — still finds them: its own
   * markers (first carried now) and carried ones younger than MARKER_CARRY_MS (their `at` kept).
   * Runs right after the claim is read (barrier passed: no marker can still land in it) and before
   * anything else, in particular before the claim is deleted: the claim's unlink is the only way a
   * marker leaves the disk, so a crash anywhere in the import leaves the claim, and the next import
   * reads and carries it again. A doubled carried line is harmless (and skipped when the live file
   * already has that id); a missing one would be the duplicate notification this is about.
   * Returns the lines written.
   */
  private async carry(markers: readonly InboxMarker[]): Promise<number> {
    const now = this.host.clock.now();
    const keep = new Map<string, { queueId: string; at: number }>();
    for (const k of markers) {
      const at = k.carried ? k.at : now;
      if (at === undefined || now - at >= MARKER_CARRY_MS) continue;
      const had = keep.get(k.msgId);
      if (!had || at < had.at) keep.set(k.msgId, { queueId: k.queueId, at });
    }
    if (keep.size === 0) return 0;
    return this.locked('ex', 'carrying markers waited too long for the inbox flock', (fd) => {
      const have = this.io(() => markerIds(readFd(fd)), 'scan');
      const lines = [...keep].filter(([id]) => !have.has(id)).map(([msgId, k]) => encodeMarker({ msgId, queueId: k.queueId, carried: true, at: k.at }));
      if (lines.length) this.write(fd, Buffer.concat(lines));
      return lines.length;
    });
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

/** fsync a directory, so a file created (or renamed) in it survives a power cut. */
function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Append and fsync (and fsync the directory when the file is new). */
function appendSynced(p: string, data: Buffer): void {
  const fd = fs.openSync(p, 'a', 0o600);
  try {
    const created = fs.fstatSync(fd).size === 0;
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
    if (created) fsyncDir(path.dirname(p));
  } finally {
    fs.closeSync(fd);
  }
}

function readFd(fd: number): Buffer {
  const size = fs.fstatSync(fd).size;
  const b = Buffer.alloc(size);
  for (let at = 0; at < size; ) {
    const n = fs.readSync(fd, b, at, size - at, at);
    if (n === 0) return b.subarray(0, at);
    at += n;
  }
  return b;
}

function lastByte(fd: number, size: number): number {
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, size - 1);
  return b[0]!;
}
