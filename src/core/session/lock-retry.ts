/**
 * Store writes that met LOCK_TIMEOUT, tried again (docs/receive.md "Write retries on
 * LOCK_TIMEOUT"): the policy, and how the errors about them name the lock's holder.
 */
import { isNsekitError, NsekitError } from '../errors.js';
import type { Host, LogLevel } from '../host.js';
import { Backoff, sleep } from './app/backoff.js';

/**
 * A store write that failed with LOCK_TIMEOUT (the other process held the cross-process lock
 * longer than the store waits, lockTimeoutMs) is tried again after a backoff with jitter while
 * the phase allows it — at most this many attempts in all, and no new attempt once this long
 * has passed since the first LOCK_TIMEOUT (a GET slot held across the retries must stay well
 * inside the coordinator's 30 s hold timeout: 4 attempts of a 5 s lock wait and their backoffs).
 */
export const LOCK_RETRY = { attempts: 4, windowMs: 20_000, baseMs: 100, maxMs: 1_000 } as const;

/** The holder a LOCK_TIMEOUT names (Node locks: `holderPid`; the fast mode's lock table: `holder`). */
export function lockHolderOf(e: unknown): number | undefined {
  const d = (e as { details?: Record<string, unknown> } | null)?.details;
  const h = d?.holderPid ?? d?.holder;
  return typeof h === 'number' ? h : undefined;
}

/** The same error with `fields` added to its details (what an `error` event reports about it). */
export function withDetails(e: unknown, fields: Record<string, unknown>): unknown {
  if (isNsekitError(e)) {
    const prefix = `${e.code}: `;
    const out = new NsekitError(e.code, e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message, { ...(e.details ?? {}), ...fields });
    if (e.stack) out.stack = e.stack;
    return out;
  }
  if (e instanceof Error) Object.assign(e, { details: { ...((e as { details?: Record<string, unknown> }).details ?? {}), ...fields } });
  return e;
}

/**
 * Run a store write; if it fails with LOCK_TIMEOUT, try it again after a backoff (exponential,
 * jittered from the host Rng) while `may()` holds, within `limits`. Every store write is
 * idempotent (INSERT OR IGNORE, upserts), so a retry never doubles one. The last LOCK_TIMEOUT is
 * rethrown with the holder it names.
 */
export async function retryOnLockTimeout<T>(
  host: Pick<Host, 'clock' | 'rng'>,
  log: (level: LogLevel, msg: string, fields: Record<string, unknown>) => void,
  what: string,
  fn: () => Promise<T>,
  may: () => boolean,
  fields: Record<string, unknown> = {},
  limits: { attempts: number; windowMs: number } = LOCK_RETRY,
  /** Added to the give-up log line (e.g. the phase that ended the retries). */
  context: () => Record<string, unknown> = () => ({}),
): Promise<T> {
  // The window counts from the first LOCK_TIMEOUT: a write that succeeds costs no clock read.
  let t0: number | null = null;
  let backoff: Backoff | null = null;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (!isNsekitError(e, 'LOCK_TIMEOUT')) throw e;
      const holderPid = lockHolderOf(e);
      const now = host.clock.now();
      t0 ??= now;
      if (attempt >= limits.attempts || now - t0 >= limits.windowMs || !may()) {
        log('warn', `${what} failed: LOCK_TIMEOUT`, { ...fields, attempts: attempt, holderPid, ...context() });
        throw withDetails(e, { holderPid, attempts: attempt });
      }
      backoff ??= new Backoff(host.rng, LOCK_RETRY.baseMs, LOCK_RETRY.maxMs);
      const ms = backoff.next();
      log('warn', `${what} hit LOCK_TIMEOUT: retrying`, { ...fields, attempt, backoffMs: ms, holderPid });
      await sleep(host.clock, ms);
      // A suspension that began during the wait ends the retries: the write does not start again.
      if (!may()) throw withDetails(e, { holderPid, attempts: attempt });
    }
  }
}
