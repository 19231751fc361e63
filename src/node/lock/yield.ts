import { randomBytes } from 'node:crypto';
import { readFileSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import type { Log } from '../../core/host.js';

/**
 * Priority requests between processes sharing one lock: `<lockPath>.yield`
 * holds the latest request `{pid, token, seq, ts, active}`. A request stays
 * active until the requester itself acquires the lock (it clears it then), it
 * expires after `ttlMs`, or the requester dies — so a request made while the
 * holder was between two acquisitions is still seen on the next one.
 *
 * The file is rewritten in place (not renamed) so an fs.watch on it keeps
 * working; a reader that catches it half-written just ignores it and the
 * following change event (or the holder's poll) reads it again.
 */
export interface YieldRequest {
  pid: number;
  token: string;
  seq: number;
  ts: number;
  active: boolean;
}

export class YieldChannel {
  /** Identifies this lock instance (two instances in one process are distinct). */
  readonly token = randomBytes(6).toString('hex');
  private seq = 0;
  private requested = false;
  private watcher: FSWatcher | undefined;

  constructor(
    readonly path: string,
    private readonly log: Log,
    private readonly ttlMs: number,
  ) {}

  /** Publish an active request from this instance. Best effort: logs instead of throwing. */
  request(): void {
    const req: YieldRequest = { pid: process.pid, token: this.token, seq: ++this.seq, ts: Date.now(), active: true };
    try {
      writeFileSync(this.path, JSON.stringify(req));
      this.requested = true;
    } catch (e) {
      this.log.log('warn', 'lock', 'yield request not written', { path: this.path, err: String(e) });
    }
  }

  /** Called after this instance acquired: its own request is satisfied, withdraw it. */
  satisfied(): void {
    if (!this.requested) return;
    this.requested = false;
    const cur = this.read();
    if (cur?.token === this.token && cur.active) {
      try {
        writeFileSync(this.path, JSON.stringify({ ...cur, active: false }));
      } catch {
        /* an unwithdrawn request expires after ttlMs */
      }
    }
  }

  /** The request a holder should honour now, if any: active, someone else's, fresh, requester alive. */
  pending(): YieldRequest | undefined {
    const r = this.read();
    if (!r || !r.active || r.token === this.token) return undefined;
    if (Date.now() - r.ts > this.ttlMs) return undefined;
    if (!pidAlive(r.pid)) return undefined;
    return r;
  }

  /** Start watching the file (creating it empty if missing). Falls back silently to polling. */
  watch(onChange: () => void): void {
    if (this.watcher) return;
    try {
      writeFileSync(this.path, '', { flag: 'a' });
      this.watcher = watch(this.path, { persistent: false }, () => onChange());
      this.watcher.on('error', (e) => {
        this.log.log('warn', 'lock', 'yield watcher failed; polling only', { err: String(e) });
        this.unwatch();
      });
    } catch (e) {
      this.log.log('debug', 'lock', 'yield watcher unavailable; polling only', { err: String(e) });
    }
  }

  unwatch(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  private read(): YieldRequest | undefined {
    try {
      const text = readFileSync(this.path, 'utf8');
      if (!text) return undefined;
      const r = JSON.parse(text) as Partial<YieldRequest>;
      if (typeof r.pid !== 'number' || typeof r.token !== 'string' || typeof r.seq !== 'number') return undefined;
      if (typeof r.ts !== 'number' || typeof r.active !== 'boolean') return undefined;
      return r as YieldRequest;
    } catch {
      return undefined; // missing or half-written: the next event or poll reads it again
    }
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}
