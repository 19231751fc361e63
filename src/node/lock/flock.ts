import { randomBytes } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, statSync, writeSync } from 'node:fs';
import { BaseLock } from './base.js';
import { fsExt, tryFlockEx } from './fs-ext.js';
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
 * Lock file header (little-endian, 40 bytes): [0,8) generation u64 · [8,16)
 * reserved · [16,40) the "want" hint: waiter id u32, pad u32, waiting-since
 * f64 ms, refreshed f64 ms.
 *
 * Fairness: flock gives the lock to whoever asks first after an unlock, and a
 * process looping on short transactions re-asks within microseconds while a
 * waiter sleeps in its backoff — the waiter could starve. So a waiter that
 * has to sleep (its short spin did not get it in) advertises itself in the want hint, and an acquirer that finds a live waiter
 * that has waited longer than `fairMs` lets go again and steps aside until that
 * waiter got in. The hint is advisory (unlocked writes, last writer wins); a
 * dead or frozen waiter stops refreshing it and is ignored after `staleMs`.
 *
 * Syscalls are the cost here (several µs each on a loaded VM), so the hot path
 * is: acquire = flock + one 40-byte pread; release = one pwrite (only if wrote
 * or we had advertised) + unlock.
 */
const HDR = 40;
const WANT_OFF = 16;
const WANT_LEN = 24;
const INODE_CHECK_MS = 1000;
/** Back-to-back attempts before the first yield: a failed attempt is ≈5 µs, a store transaction ≈100 µs. */
const FIRST_SPIN_MS = 0.1;

class FlockLock extends BaseLock {
  readonly backend = 'flock' as const;
  private fd: number | undefined;
  private readonly pollMinMs: number;
  private readonly pollMaxMs: number;
  private readonly fairMs: number;
  private readonly staleMs: number;
  private readonly hdr = Buffer.alloc(HDR);
  private readonly wbuf = Buffer.alloc(HDR);
  private readonly id = (randomBytes(4).readUInt32LE(0) || 1) >>> 0;
  /** Generation read at acquisition; valid while held. */
  private acquiredGen: number | undefined;
  private pendingGen: number | undefined;
  private advertised = false;
  private refreshedAt = 0;
  /** When our current advertisement started (reset after stepping aside). */
  private mySince: number | undefined;
  /** Stepped aside for a waiter: only peek (one pread) until it got in. */
  private deferring = false;
  private lastInodeCheck = 0;

  constructor(lockPath: string, opts: FlockOptions) {
    super(lockPath, opts);
    this.pollMinMs = opts.pollMinMs ?? 0.1;
    this.pollMaxMs = opts.pollMaxMs ?? 5;
    this.fairMs = opts.fairMs ?? 50;
    this.staleMs = Math.max(20, 4 * this.pollMaxMs);
    this.firstSpinMs = FIRST_SPIN_MS;
  }

  protected tryLock(): boolean {
    const fd = this.open();
    if (this.deferring) {
      if (this.readHdr(fd) >= HDR && this.waiterFirst()) return false;
      this.deferring = false;
      this.mySince = undefined; // our turn to wait starts now
    }
    try {
      if (!tryFlockEx(fd)) return false;
    } catch (e) {
      throw lockIoError(this.lockPath, 'flock', e);
    }
    try {
      if (!this.sameFileSometimes(fd)) {
        // The file was unlinked/replaced under our open fd: we would hold a lock
        // nobody else sees. Drop this fd; the next attempt opens the new file.
        this.reopen();
        return false;
      }
      const n = this.readHdr(fd);
      if (n >= HDR && this.waiterFirst()) {
        this.deferring = true;
        fsExt.flockSync(fd, 'un');
        return false;
      }
      this.acquiredGen = n >= 8 ? readU64(this.hdr) : 0;
      return true;
    } catch (e) {
      this.reopen(); // closing the fd drops the flock
      throw lockIoError(this.lockPath, 'read header', e);
    }
  }

  protected unlock(): void {
    const fd = this.fd;
    const gen = this.pendingGen;
    const clearWant = this.advertised;
    this.pendingGen = undefined;
    this.advertised = false;
    this.mySince = undefined;
    this.acquiredGen = undefined;
    if (fd === undefined) return;
    try {
      if (gen !== undefined || clearWant) {
        if (clearWant) this.wbuf.fill(0);
        if (gen !== undefined) writeU64(this.wbuf, gen);
        // One write: the generation, and/or our (satisfied) want cleared.
        if (gen !== undefined && clearWant) writeSync(fd, this.wbuf, 0, HDR, 0);
        else if (gen !== undefined) writeSync(fd, this.wbuf, 0, 8, 0);
        else writeSync(fd, this.wbuf, WANT_OFF, WANT_LEN, WANT_OFF);
      }
      fsExt.flockSync(fd, 'un');
    } catch (e) {
      this.reopen(); // closing the fd releases the lock for sure
      throw lockIoError(this.lockPath, 'unlock', e);
    }
  }

  protected readGen(): number {
    if (this.acquiredGen !== undefined) return this.acquiredGen;
    let n: number;
    try {
      n = this.readHdr(this.open());
    } catch (e) {
      throw lockIoError(this.lockPath, 'read generation', e);
    }
    return n >= 8 ? readU64(this.hdr) : 0;
  }

  protected writeGen(gen: number): void {
    this.pendingGen = gen; // written by unlock(), in the same pwrite as the want hint
  }

  protected holderPid(): number | undefined {
    return flockHolders(this.lockPath).find((p) => p !== process.pid) ?? flockHolders(this.lockPath)[0];
  }

  protected nextDelay(prev: number | undefined): number {
    const d = prev === undefined ? this.pollMinMs : Math.min(prev * 2, this.pollMaxMs);
    if (d < 1) return d;
    if (this.deferring) return 1; // resume contending soon after the waiter we let in got in
    if (this.mySince === undefined) return d;
    // Once we are owed the lock the holder steps aside at its next acquire: wake
    // about when that happens, then poll at 1 ms, so the lock does not sit idle
    // for a whole backoff period.
    const owedInMs = this.mySince + this.fairMs - Date.now();
    return owedInMs <= 0 ? 1 : Math.min(d, Math.max(1, owedInMs + 0.5));
  }

  protected override publishWant(_since: number, delayMs: number): void {
    // Only a waiter that is about to sleep advertises: one that gets in during
    // its short spin never pays the extra write. While stepping aside, do not
    // overwrite the waiter we are letting in. Refresh well within staleMs.
    if (this.deferring || delayMs < 1) return;
    const now = Date.now();
    if (this.advertised && now - this.refreshedAt < this.staleMs / 4) return;
    this.refreshedAt = now;
    this.mySince ??= now;
    this.wbuf.writeUInt32LE(this.id, 0);
    this.wbuf.writeUInt32LE(0, 4);
    this.wbuf.writeDoubleLE(this.mySince, 8);
    this.wbuf.writeDoubleLE(Date.now(), 16);
    try {
      writeSync(this.open(), this.wbuf, 0, WANT_LEN, WANT_OFF);
      this.advertised = true;
    } catch {
      /* a hint only */
    }
  }

  protected override withdrawWant(): void {
    this.advertised = false;
    this.deferring = false;
    this.mySince = undefined;
    try {
      const fd = this.open();
      if (this.readHdr(fd) >= HDR && this.hdr.readUInt32LE(WANT_OFF) === this.id) {
        this.wbuf.fill(0);
        writeSync(fd, this.wbuf, 0, WANT_LEN, WANT_OFF);
      }
    } catch {
      /* a hint only; it goes stale */
    }
  }

  protected closeBackend(): void {
    this.reopen();
  }

  /** From the header just read: another live waiter has waited long enough to go first. */
  private waiterFirst(): boolean {
    const id = this.hdr.readUInt32LE(WANT_OFF);
    if (id === 0 || id === this.id) return false;
    const now = Date.now();
    const since = this.hdr.readDoubleLE(WANT_OFF + 8);
    const refreshed = this.hdr.readDoubleLE(WANT_OFF + 16);
    return now - refreshed < this.staleMs && now - since > this.fairMs;
  }

  private readHdr(fd: number): number {
    const n = readSync(fd, this.hdr, 0, HDR, 0);
    if (n < HDR) this.hdr.fill(0, n);
    return n;
  }

  private open(): number {
    if (this.fd !== undefined) return this.fd;
    try {
      this.fd = openSync(this.lockPath, constants.O_RDWR | constants.O_CREAT, 0o644);
    } catch (e) {
      throw lockIoError(this.lockPath, 'open', e);
    }
    this.lastInodeCheck = Date.now();
    return this.fd;
  }

  private reopen(): void {
    if (this.fd !== undefined) {
      try {
        closeSync(this.fd);
      } catch {
        /* already closed */
      }
    }
    this.fd = undefined;
  }

  /** Is our fd still the file at lockPath? Checked at most once a second (2 syscalls). */
  private sameFileSometimes(fd: number): boolean {
    const now = Date.now();
    if (now - this.lastInodeCheck < INODE_CHECK_MS) return true;
    this.lastInodeCheck = now;
    try {
      const a = fstatSync(fd);
      const b = statSync(this.lockPath);
      return a.ino === b.ino && a.dev === b.dev;
    } catch {
      return false;
    }
  }
}

/** u64 LE as two u32 halves: no BigInt on the hot path (generations stay far below 2^53). */
function readU64(b: Buffer): number {
  return b.readUInt32LE(0) + b.readUInt32LE(4) * 0x1_0000_0000;
}

function writeU64(b: Buffer, v: number): void {
  b.writeUInt32LE(v >>> 0, 0);
  b.writeUInt32LE(Math.floor(v / 0x1_0000_0000), 4);
}

export function createFlockLock(lockPath: string, opts: FlockOptions = {}): CrossProcessLock {
  return new FlockLock(lockPath, opts);
}
