/**
 * Typed errors with stable codes. Codes are part of the public contract
 * (docs/errors.md, ios-bridge/host-contract.md): never rename one, only add.
 */
export const ErrorCodes = {
  // phase gates
  GATE_TIMEOUT: 'GATE_TIMEOUT', // an operation waited for its blocked class longer than its timeout
  GATE_STOPPED: 'GATE_STOPPED', // the phase controller was stopped while the operation waited
  // per-queue GET/ACK serialization
  QUEUE_SUBSCRIBED: 'QUEUE_SUBSCRIBED', // GET on a queue this process is SUB-scribed to
  QUEUE_GET_IN_PROGRESS: 'QUEUE_GET_IN_PROGRESS', // SUB on a queue with a GET slot held or waiting
  QUEUE_TIMEOUT: 'QUEUE_TIMEOUT', // waited for the queue slot longer than the timeout
  QUEUE_SLOT_EXPIRED: 'QUEUE_SLOT_EXPIRED', // ACK after the slot's hold timeout released it
  // sealed envelopes
  CRYPTO_BAD_KEY: 'CRYPTO_BAD_KEY', // key of the wrong length
  CRYPTO_TRUNCATED: 'CRYPTO_TRUNCATED', // envelope shorter than header + tag
  CRYPTO_BAD_VERSION: 'CRYPTO_BAD_VERSION', // unknown magic/version/kind byte
  CRYPTO_AUTH_FAILED: 'CRYPTO_AUTH_FAILED', // wrong key, tampered bytes, or swapped row (AAD mismatch)
  CONTENT_MALFORMED: 'CONTENT_MALFORMED', // decrypted message content is not a valid encoded MessageContent
  INBOUND_QUARANTINED: 'INBOUND_QUARANTINED', // a message that can never be processed was kept sealed in the store's quarantine, then ACKed
  // the app's outbox
  OUTBOX_TOO_LARGE: 'OUTBOX_TOO_LARGE', // refused at enqueue: the sealed body would exceed the relay's body limit; nothing queued
  OUTBOX_NOT_QUEUED: 'OUTBOX_NOT_QUEUED', // the outbox write failed (e.g. LOCK_TIMEOUT after its retries); nothing queued
  OUTBOX_ATTEMPTS_EXHAUSTED: 'OUTBOX_ATTEMPTS_EXHAUSTED', // dead letter: the item failed its attempt cap of SENDs
  OUTBOX_EXPIRED: 'OUTBOX_EXPIRED', // dead letter: the item stayed unsent longer than the outbox's age cap
  // cross-process lock
  LOCK_TIMEOUT: 'LOCK_TIMEOUT', // not acquired within the timeout (holder frozen or slow)
  LOCK_DIR_MISSING: 'LOCK_DIR_MISSING', // the shared directory of the lock file does not exist
  LOCK_NOT_HELD: 'LOCK_NOT_HELD', // release/use without holding the lock
  LOCK_IO: 'LOCK_IO', // any other OS error on the lock file
  LOCK_YIELD_REQUESTED: 'LOCK_YIELD_REQUESTED', // a higher-priority process asked this one to yield
  // shared store
  STORE_LOCKED: 'STORE_LOCKED', // device locked: master key not in memory
  STORE_CLOSED: 'STORE_CLOSED', // store closed (suspended) and an operation reached it anyway
  STORE_WRONG_KEY: 'STORE_WRONG_KEY', // the master key does not match the store's key check
  STORE_CORRUPT: 'STORE_CORRUPT', // the database file is not a valid/intact SQLite database
  STORE_SCHEMA_TOO_NEW: 'STORE_SCHEMA_TOO_NEW', // written by a newer nsekit
  STORE_IO: 'STORE_IO', // the database file cannot be opened or created (missing directory, permissions, disk full)
  // pending inbox
  INBOX_BAD_LINE: 'INBOX_BAD_LINE', // a complete line that is neither a record nor a marker
  INBOX_TORN_LINE: 'INBOX_TORN_LINE', // an incomplete final line (crash mid-append); reported, skipped
  INBOX_IO: 'INBOX_IO',
  // relay protocol
  PROTO_MALFORMED: 'PROTO_MALFORMED',
  PROTO_UNKNOWN_COMMAND: 'PROTO_UNKNOWN_COMMAND',
  PROTO_TOO_LARGE: 'PROTO_TOO_LARGE',
  PROTO_AUTH: 'PROTO_AUTH',
  PROTO_NO_QUEUE: 'PROTO_NO_QUEUE',
  PROTO_NO_MSG: 'PROTO_NO_MSG',
  PROTO_RATE_LIMIT: 'PROTO_RATE_LIMIT',
  PROTO_QUOTA: 'PROTO_QUOTA',
  PROTO_TIMEOUT: 'PROTO_TIMEOUT',
  PROTO_CLOSED: 'PROTO_CLOSED',
  PROTO_STALE: 'PROTO_STALE', // signed status request timestamp outside the allowed clock skew
  PROTO_REPLAY: 'PROTO_REPLAY', // signed status request already seen within the skew window
  PROTO_BUSY: 'PROTO_BUSY', // relay refused a new connection (connection cap reached)
  PROTO_INTERNAL: 'PROTO_INTERNAL', // relay-side failure while handling a valid command
  PROTO_GROUP_MEMBERS: 'PROTO_GROUP_MEMBERS', // GSEND parts do not name exactly the group's member queues
  // simulator (sim/)
  SCENARIO_INVALID: 'SCENARIO_INVALID', // a scenario file or builder output fails the schema or its cross-step rules
  SIM_TRIGGER_TIMEOUT: 'SIM_TRIGGER_TIMEOUT', // a scenario step's failpoint was not reached in time (the race was not exercised)
  SIM_NO_SCENARIO: 'SIM_NO_SCENARIO', // nsekit sim: neither a scenario file nor a catalogue name
  HISTORY_BAD_LINE: 'HISTORY_BAD_LINE', // a complete history JSONL line that is not a valid operation record
  BRIDGE_BAD_INPUT: 'BRIDGE_BAD_INPUT', // the native host called the bridge facade with malformed arguments
  BRIDGE_HOST_ERROR: 'BRIDGE_HOST_ERROR', // the native host answered with a malformed value or an error without a known code
  // command line (src/cli, sim/cli)
  CLI_USAGE: 'CLI_USAGE', // unknown option, missing required option or value, unexpected argument
  CLI_BAD_VALUE: 'CLI_BAD_VALUE', // an option's value has the wrong form or is out of range (the option and value are named)
  CLI_CONFIG: 'CLI_CONFIG', // a --config file is missing, unreadable, not JSON, or a field has the wrong type (file and field named)
  CLI_IO: 'CLI_IO', // a file, directory or port the command was given cannot be opened, created or bound (path or port named)
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export class NsekitError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(`${code}: ${message}`);
    this.name = 'NsekitError';
    this.code = code;
    this.details = details;
  }
}

export function isNsekitError(e: unknown, code?: ErrorCode): e is NsekitError {
  return e instanceof NsekitError && (code === undefined || e.code === code);
}
