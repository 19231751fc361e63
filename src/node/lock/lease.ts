import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import lockfile from 'proper-lockfile';
import { BaseLock } from './base.js';
import { lockIoError } from './open-errors.js';
import type { CrossProcessLock, LeaseOptions } from './types.js';

/**
 * Lease backend (proper-lockfile), for filesystems without working flock.
 * The lock is the directory `<lockPath>.lock` (mkdir is atomic); its mtime is
 * renewed every `renewMs`, and a lease not renewed for `leaseMs` is stale and
 * taken over by the next acquirer. So a holder that dies is replaced after
 * leaseMs — but so is a holder that is merely frozen (SIGSTOP, a long GC, an
 * iOS suspension): when it resumes it no longer holds the lock. proper-lockfile
 * reports that through `onCompromised`; we log it and mark the lock not held
 * (never throw from the timer). This is why flock is preferred where it works.
 *
 * Sidecars: `<lockPath>.gen` the generation (temp + rename while held),
 * `<lockPath>.owner` `pid:token` of the current holder, checked before unlocking
 * so a holder that lost its lease does not delete its successor's lock.
 */
class LeaseLock extends BaseLock {
  readonly backend = 'lease' as const;
  private readonly leaseMs: number;
  private readonly renewMs: number;
  private readonly retryMs: number;
  private readonly genPath: string;
  private readonly ownerPath: string;
  private readonly owner: string;
  private releaseFn: (() => void) | undefined;

  constructor(lockPath: string, opts: LeaseOptions) {
    super(lockPath, opts);
    this.leaseMs = opts.leaseMs ?? 2000;
    this.renewMs = opts.renewMs ?? this.leaseMs / 2;
    this.retryMs = opts.retryMs ?? 1;
    this.genPath = `${lockPath}.gen`;
    this.ownerPath = `${lockPath}.owner`;
    this.owner = `${process.pid}:${Math.random().toString(36).slice(2, 10)}`;
  }

  protected tryLock(): boolean {
    let release: () => void;
    try {
      release = lockfile.lockSync(this.lockPath, {
        stale: this.leaseMs,
        update: this.renewMs,
        realpath: false,
        onCompromised: (err) => {
          this.releaseFn = undefined;
          this.markLost(err.message);
        },
      });
    } catch (e) {
      if ((e as { code?: string }).code === 'ELOCKED') return false;
      throw lockIoError(this.lockPath, 'lease', e);
    }
    this.releaseFn = release;
    try {
      this.atomicWrite(this.ownerPath, this.owner);
    } catch (e) {
      this.unlock();
      throw e;
    }
    return true;
  }

  protected unlock(): void {
    const release = this.releaseFn;
    this.releaseFn = undefined;
    if (!release) return;
    if (this.readText(this.ownerPath) !== this.owner) {
      // Our lease went stale and someone took over before the renewal timer noticed.
      this.host.log.log('error', 'lock', 'lease lost before release; not unlocking', { lockPath: this.lockPath });
      return;
    }
    try {
      release();
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === 'ERELEASED' || code === 'ENOTACQUIRED') return;
      throw lockIoError(this.lockPath, 'unlock', e);
    }
  }

  protected readGen(): number {
    const text = this.readText(this.genPath);
    const n = text === undefined ? 0 : Number(text);
    return Number.isSafeInteger(n) && n >= 0 ? n : 0;
  }

  protected writeGen(gen: number): void {
    this.atomicWrite(this.genPath, String(gen));
  }

  /** Re-read: after a lost lease the shared value may have moved past ours. */
  protected override nextGen(): number {
    return this.readGen() + 1;
  }

  protected holderPid(): number | undefined {
    const text = this.readText(this.ownerPath);
    const pid = text ? Number(text.split(':')[0]) : NaN;
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  }

  protected nextDelay(): number {
    return this.retryMs;
  }

  protected closeBackend(): void {
    this.releaseFn = undefined;
  }

  private readText(path: string): string | undefined {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw lockIoError(path, 'read', e);
    }
  }

  private atomicWrite(path: string, text: string): void {
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      writeFileSync(tmp, text);
      renameSync(tmp, path);
    } catch (e) {
      throw lockIoError(path, 'write', e);
    }
  }
}

export function createLeaseLock(lockPath: string, opts: LeaseOptions = {}): CrossProcessLock {
  return new LeaseLock(lockPath, opts);
}
