import type { Gate, Host, Lock, MessageFlags } from '../../core/host.js';
import type { OutboxItem as PortOutboxItem, OutboxState } from '../../core/session/ports.js';

export interface SharedStoreOptions {
  dbPath: string;
  lock: Lock;
  /** Default openGate (tools and tests outside a phase machine). */
  gate?: Gate;
  host: Host;
  /** Timeout for the cross-process lock on each write (default 5000 ms). */
  lockTimeoutMs?: number;
  /**
   * FULL (default): every commit is synced (WAL fsync inside COMMIT) before the write's promise
   * resolves, so nothing ACKed after a write can be lost to a power cut or OS crash. NORMAL: **not
   * power-cut safe** — a commit survives a process crash but may be lost with the last WAL frames
   * on power loss; only for tools and benchmarks that accept that.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /**
   * Group commit: at most this many queued write calls share one transaction (default 64; 1 turns
   * grouping off). Bounds how long one group holds the cross-process lock.
   */
  maxGroupWrites?: number;
  /** SQLite busy_timeout, a backstop only: the cross-process lock prevents BUSY (default 250 ms). */
  busyTimeoutMs?: number;
  /**
   * 'quick' (default): `PRAGMA quick_check` at open, so damage is reported
   * before anything runs. 'none': header check only — quick_check reads the
   * whole file (≈ 10 ms per 7 MB here), which a process launched per push with a
   * 30 s budget (the NSE) cannot pay on every launch; damaged pages then surface
   * as STORE_CORRUPT from the first statement that touches them.
   */
  integrityCheck?: 'quick' | 'none';
}

export interface PlainMessage {
  msgId: string;
  queueId: string;
  ts: number;
  flags: MessageFlags;
  body: Uint8Array;
}
// The outbox row and the cursor are the session port's (src/core/session/ports.ts); the SQLite
// store always knows when an item was queued and why it failed.
export type { Cursor, OutboxState } from '../../core/session/ports.js';
export interface OutboxItem extends PortOutboxItem {
  createdAt: number;
  lastError: string | null;
}

export const flagsToInt = (f: MessageFlags): number => (f.notification ? 1 : 0);
export const intToFlags = (n: number): MessageFlags => ({ notification: (n & 1) !== 0 });

export interface MessageRow {
  msg_id: string;
  queue_id: string;
  ts: number;
  flags: number;
  sealed: Buffer;
}
export interface OutboxRow {
  client_id: string;
  queue_id: string;
  sealed: Buffer;
  state: OutboxState;
  attempts: number;
  updated_at: number;
  created_at: number;
  last_error: string | null;
}
export interface QuarantineRow {
  msg_id: string;
  queue_id: string;
  ts: number;
  flags: number;
  sealed: Buffer;
  reason: string;
  via: string;
  attempts: number;
  first_at: number;
  last_at: number;
}

