import { closeSync, constants, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isNsekitError } from '../../core/errors.js';
import { BaseLock } from './base.js';
import { fsExt, isWouldBlock } from './fs-ext.js';
import { lockIoError } from './open-errors.js';
import { flockHolders } from './proc-locks.js';
import type { CrossProcessLock, FlockOptions } from './types.js';

/**
 * flock(2) backend. The kernel is the source of truth: the lock belongs to an
 * open file description and is dropped the instant the holder dies, so a
 * crashed holder never blocks anyone. Only non-blocking attempts are made —
 * a blocking flock would sit in a libuv pool thread that cannot be cancelled
 * and stays pinned forever if the holder is frozen (SIGSTOP).
 *
 * Lock file layout (little-endian): [0,8) generation u64 · [8,12) pid of the
 * last holder (diagnostics only; /proc/locks is the truth) · [16,40) the
 * "want" hint: waiter id u32, pad, waiting-since f64 ms, refreshed f64 ms.
 *
 * Fairness: flock hands the lock to whoever asks first after an unlock, and a
 * process looping on short transactions re-asks within microseconds while a
 * waiter sleeps in its backoff — the waiter would starve. So a waiter
 * advertises itself in the want hint, and an acquirer that sees a live waiter
 * that has waited longer than `fairMs` steps aside until that waiter got in.
 * The hint is advisory (unlocked writes, last writer wins); a dead or frozen
 * waiter stops refreshing it and is ignored after `staleMs`.
 */
const GEN_OFF = 0;
const PID_OFF = 8;
const WANT_OFF = 16;
const WANT_LEN = 24;

class FlockLock extends BaseLock {
  readonly backend = 'flock' as const;
  private fd: number | undefined;
  private readonly pollMinMs: number;
  private readonly pollMaxMs: number;
  private readonly buf = Buffer.alloc(8);
  private readonly want = Buffer.alloc(WANT_LEN);
  private readonly id = (randomBytes(4).readUInt32LE(0) || 1) >>> 0;
  private readonly fairMs: number;
  private readonly staleMs: number;

  constructor(lockPath: string, opts: FlockOptions) {
    super(lockPath, opts);
    this.pollMinMs = opts.pollMinMs ?? 0.1;
    this.pollMaxMs = opts.pollMaxMs ?? 5;
    this.fairMs = opts.fairMs ?? 2;
    this.staleMs = Math.max(20, 4 * this.pollMaxMs);
  }

  protected override shouldDefer(): boolean {
    let n: number;
    try {
      n = readSync(this.open(), this.want, 0, WANT_LEN, WANT_OFF);
    } catch {
      return false; // the attempt itself will report the I/O error
    }
    if (n < WANT_LEN) return false;
    const id = this.want.readUInt32LE(0);
    if (id === 0 || id === this.id) return false;
    const now = Date.now();
    return now - this.want.readDoubleLE(16) < this.staleMs && now - this.want.readDoubleLE(8) > this.fairMs;
  }

  protected override publishWant(since: number): void {
    this.want.writeUInt32LE(this.id, 0);
    this.want.writeUInt32LE(0, 4);
    this.want.writeDoubleLE(since, 8);
    this.want.writeDoubleLE(Date.now(), 16);
    try {
      writeSync(this.open(), this.want, 0, WANT_LEN, WANT_OFF);
    } catch {
      /* a hint only */
    }
  }

  protected override withdrawWant(): void {
    try {
      const fd = this.open();
      if (readSync(fd, this.want, 0, 4, WANT_OFF) === 4 && this.want.readUInt32LE(0) === this.id) {
        this.want.fill(0);
        writeSync(fd, this.want, 0, WANT_LEN, WANT_OFF);
      }
    } catch {
      /* a hint only; it goes stale */
    }
  }

  protected tryLock(): boolean {
    return this.lockOnce(true);
  }

  private lockOnce(mayRetry: boolean): boolean {
    const fd = this.open();
    try {
      fsExt.flockSync(fd, 'exnb');
    } catch (e) {
      if (isWouldBlock(e)) return false;
      throw lockIoError(this.lockPath, 'flock', e);
    }
    // The file may have been unlinked/replaced while our fd stayed open: then we
    // would hold a lock nobody else can see. Compare inodes and start over.
    if (!this.sameFile(fd)) {
      this.reopen();
      return mayRetry ? this.lockOnce(false) : false;
    }
    this.buf.writeUInt32LE(process.pid >>> 0, 0);
    this.pwrite(this.buf, 4, PID_OFF);
    return true;
  }

  protected unlock(): void {
    if (this.fd === undefined) return;
    try {
      fsExt.flockSync(this.fd, 'un');
    } catch (e) {
      // Closing the fd releases the lock for sure; reopen on next use.
      this.reopen();
      throw lockIoError(this.lockPath, 'unlock', e);
    }
  }

  protected readGen(): number {
    const fd = this.open();
    let n: number;
    try {
      n = readSync(fd, this.buf, 0, 8, GEN_OFF);
    } catch (e) {
      throw lockIoError(this.lockPath, 'read generation', e);
    }
    return n < 8 ? 0 : Number(this.buf.readBigUInt64LE(0));
  }

  protected writeGen(gen: number): void {
    this.buf.writeBigUInt64LE(BigInt(gen), 0);
    this.pwrite(this.buf, 8, GEN_OFF);
  }

  protected holderPid(): number | undefined {
    const others = flockHolders(this.lockPath).filter((p) => p !== process.pid);
    if (others.length) return others[0];
    const fd = this.open();
    const n = readSync(fd, this.buf, 0, 4, PID_OFF);
    return n === 4 ? this.buf.readUInt32LE(0) || undefined : undefined;
  }

  protected nextDelay(prev: number | undefined): number {
    return prev === undefined ? this.pollMinMs : Math.min(prev * 2, this.pollMaxMs);
  }

  protected closeBackend(): void {
    if (this.fd !== undefined) closeQuietly(this.fd);
    this.fd = undefined;
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    try {
      this.fd = openSync(this.lockPath, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (e) {
      throw lockIoError(this.lockPath, 'open', e);
    }
    return this.fd;
  }

  private reopen(): void {
    if (this.fd !== undefined) closeQuietly(this.fd);
    this.fd = undefined;
  }

  private sameFile(fd: number): boolean {
    try {
      const a = fstatSync(fd);
      const b = statSync(this.lockPath);
      return a.ino === b.ino && a.dev === b.dev;
    } catch (e) {
      if (isNsekitError(e)) throw e;
      return false; // path gone: reopen recreates it
    }
  }

  private pwrite(buf: Buffer, len: number, pos: number): void {
    try {
      writeSync(this.open(), buf, 0, len, pos);
    } catch (e) {
      throw lockIoError(this.lockPath, 'write', e);
    }
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* already closed */
  }
}

export function createFlockLock(lockPath: string, opts: FlockOptions = {}): CrossProcessLock {
  return new FlockLock(lockPath, opts);
}
