/**
 * Deliberately broken protocol variants (test-only). Each one removes one
 * safety mechanism so the simulator can prove it catches the consequence.
 * Never in src/: each is a decorator around a session's parts
 * (./broken-components.ts), selected per run — the fast mode passes
 * `brokenComponents(variant)` to the sessions it builds; in the real mode the
 * device runs the simulation entries (./real), which read NSEKIT_BROKEN
 * (BROKEN_ENV).
 */
import { ErrorCodes, NsekitError } from '../src/core/errors.js';

export const BROKEN_VARIANTS = [
  'ack-before-write',
  'no-lock-release-on-suspend',
  'unserialized-get',
  'ungated-db-when-suspended',
  'inbox-no-fsync-claim',
  'store-sync-normal',
] as const;
export type BrokenVariant = (typeof BROKEN_VARIANTS)[number];

/** Env var the simulation entries (./real) read to select a variant in the real mode. */
export const BROKEN_ENV = 'NSEKIT_BROKEN';

/** The invariant(s) each variant must be caught violating. */
export const BROKEN_EXPECTED: Readonly<Record<BrokenVariant, readonly string[]>> = {
  'ack-before-write': ['no-loss'],
  'no-lock-release-on-suspend': ['no-dead10cc'],
  'unserialized-get': ['get-isolation'],
  'ungated-db-when-suspended': ['gates'],
  'inbox-no-fsync-claim': ['no-loss'],
  'store-sync-normal': ['no-loss'],
};

/** What each variant breaks, for docs and CLI help. */
export const BROKEN_DOCS: Readonly<Record<BrokenVariant, string>> = {
  'ack-before-write': 'the inbound pipeline ACKs (relay deletes) before the durable write',
  'no-lock-release-on-suspend': 'suspension closes the store but keeps the cross-process lock',
  'unserialized-get': 'GETs on one queue are not serialized (no per-queue slot)',
  'ungated-db-when-suspended': 'database operations start even while the process is suspended',
  'inbox-no-fsync-claim': 'the pending-inbox import reads then deletes the file (no claim by rename): a concurrent append is lost',
  'store-sync-normal': 'store commits are synced only at checkpoints (synchronous = NORMAL): a power cut takes back commits whose messages the relay already deleted (fast mode; real mode keeps the page cache)',
};

export function isBrokenVariant(x: unknown): x is BrokenVariant {
  return typeof x === 'string' && (BROKEN_VARIANTS as readonly string[]).includes(x);
}

/** Parses a variant name (CLI flag or env); undefined/'' = the correct protocol. */
export function parseBroken(x: string | undefined): BrokenVariant | undefined {
  if (x === undefined || x === '') return undefined;
  if (!isBrokenVariant(x)) {
    throw new NsekitError(ErrorCodes.SCENARIO_INVALID, `unknown broken variant '${x}' (one of ${BROKEN_VARIANTS.join(', ')})`);
  }
  return x;
}
