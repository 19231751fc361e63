import { randomBytes, randomFillSync } from 'node:crypto';
import type { Clock, Failpoints, Host, Log, LogLevel, Rng } from '../core/host.js';
import { noFailpoints } from '../core/host.js';

/** Real wall clock with Node timers. */
export const nodeClock: Clock = {
  now: () => Date.now(),
  setTimer: (ms, fn) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

/**
 * CSPRNG bytes, served from a pool refilled 4 KiB at a time: a call into the
 * OS/OpenSSL per 24-byte nonce costs ≈ 3 µs here, about as much as the lock's
 * two syscalls on every store write. Each byte is handed out once.
 */
const POOL_BYTES = 4096;
let pool = Buffer.alloc(0);
let poolOff = 0;
export const nodeRng: Rng = {
  randomBytes(n: number): Uint8Array {
    if (n > POOL_BYTES / 8) return new Uint8Array(randomBytes(n));
    if (poolOff + n > pool.length) {
      pool = randomFillSync(Buffer.allocUnsafe(POOL_BYTES));
      poolOff = 0;
    }
    const out = new Uint8Array(n);
    out.set(pool.subarray(poolOff, poolOff + n));
    pool.fill(0, poolOff, poolOff + n);
    poolOff += n;
    return out;
  },
};

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Structured log lines `[tag] msg k=v` on stderr, filtered by NSEKIT_LOG (default info). */
export function stderrLog(proc: string, minLevel: LogLevel = (process.env.NSEKIT_LOG as LogLevel) ?? 'info'): Log {
  const min = LEVELS[minLevel] ?? 20;
  return {
    log(level, tag, msg, fields) {
      if (LEVELS[level] < min) return;
      const kv = fields
        ? ' ' +
          Object.entries(fields)
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ')
        : '';
      process.stderr.write(`${new Date().toISOString()} ${proc} ${level.toUpperCase()} [${tag}] ${msg}${kv}\n`);
    },
  };
}

export const silentLog: Log = { log() {} };

/** Never log whole tokens or keys: first 6 characters and an ellipsis. */
export function truncateSecret(s: string): string {
  return s.length <= 6 ? s : `${s.slice(0, 6)}…`;
}

export function nodeHost(opts: { proc?: string; log?: Log; failpoints?: Failpoints } = {}): Host {
  return {
    clock: nodeClock,
    rng: nodeRng,
    log: opts.log ?? stderrLog(opts.proc ?? `pid${process.pid}`),
    failpoints: opts.failpoints ?? noFailpoints,
  };
}
