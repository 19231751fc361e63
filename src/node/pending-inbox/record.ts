import fs from 'node:fs';
import type { StoredMessage } from '../../core/host.js';

/** A record line: `{"v":1,"msgId":…,"queueId":…,"ts":…,"flags":0|1,"sealed":"<base64>"}\n`. */
export interface InboxLine {
  v: 1;
  msgId: string;
  queueId: string;
  ts: number;
  flags: number;
  sealed: string;
}

/**
 * A marker line: `{"v":1,"msgId":…,"queueId":…,"notified":true}\n` — the generic notification
 * for msgId was shown while locked (the store's `notifications` row is out of reach without the key).
 * A *carried* marker, `{…,"notified":true,"carried":true,"at":<ms>}\n`, is one an import already
 * moved into the store and copied into the fresh live file, so a process still locked after that
 * import sees it; `at` is when it was first carried. Every import stores it again (idempotent) and
 * carries it on until MARKER_CARRY_MS after `at` (a carried line without `at` is not carried again).
 */
export interface InboxMarker {
  msgId: string;
  queueId: string;
  /** Written by an import (not by a processing). */
  carried?: true;
  /** When a carried marker was first carried (ms, the host clock). */
  at?: number;
}

export interface InboxBadLine {
  lineNo: number;
  code: 'INBOX_BAD_LINE';
  reason: string;
  raw: Buffer;
}
export interface InboxReadResult {
  records: StoredMessage[];
  /** `notified` marker lines (carried ones included, with `carried: true`), in file order (a msgId may repeat). */
  markers: InboxMarker[];
  /** Incomplete final line (no trailing newline): a crash mid-append. Code INBOX_TORN_LINE. */
  torn: { line: number; bytes: number; code: 'INBOX_TORN_LINE'; raw: Buffer } | null;
  bad: InboxBadLine[];
}

export function encodeLine(m: StoredMessage): Buffer {
  const line: InboxLine = {
    v: 1,
    msgId: m.msgId,
    queueId: m.queueId,
    ts: m.ts,
    flags: m.flags.notification ? 1 : 0,
    sealed: Buffer.from(m.sealed.buffer, m.sealed.byteOffset, m.sealed.byteLength).toString('base64'),
  };
  return Buffer.from(JSON.stringify(line) + '\n', 'utf8');
}

export function encodeMarker(k: InboxMarker): Buffer {
  // Key order matters to markerIds: `"notified":true` stays literally in every marker line.
  const o = { v: 1, msgId: k.msgId, queueId: k.queueId, notified: true, ...(k.carried ? { carried: true } : {}), ...(k.carried && k.at !== undefined ? { at: k.at } : {}) };
  return Buffer.from(JSON.stringify(o) + '\n', 'utf8');
}

export function isMarker(x: StoredMessage | InboxMarker): x is InboxMarker {
  return !('sealed' in x);
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Returns the record or marker, or a reason string when the line is neither in v1. */
export function parseLine(text: string): StoredMessage | InboxMarker | string {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof o !== 'object' || o === null) return 'not an object';
  const r = o as Partial<InboxLine>;
  if (r.v !== 1) return `unsupported version ${String(r.v)}`;
  if (typeof r.msgId !== 'string' || r.msgId === '') return 'bad msgId';
  if (typeof r.queueId !== 'string') return 'bad queueId';
  if ('notified' in r) {
    const k = r as { notified?: unknown; carried?: unknown; at?: unknown };
    if (k.notified !== true || 'sealed' in r) return 'bad marker';
    if ('carried' in k && k.carried !== true) return 'bad marker';
    if ('at' in k && (typeof k.at !== 'number' || !Number.isFinite(k.at))) return 'bad marker';
    if (k.carried !== true) return { msgId: r.msgId, queueId: r.queueId };
    return typeof k.at === 'number' ? { msgId: r.msgId, queueId: r.queueId, carried: true, at: k.at } : { msgId: r.msgId, queueId: r.queueId, carried: true };
  }
  if (typeof r.ts !== 'number' || !Number.isFinite(r.ts)) return 'bad ts';
  if (r.flags !== 0 && r.flags !== 1) return 'bad flags';
  if (typeof r.sealed !== 'string' || r.sealed.length % 4 !== 0 || !B64.test(r.sealed)) return 'bad sealed';
  const sealed = new Uint8Array(Buffer.from(r.sealed, 'base64'));
  return { msgId: r.msgId, queueId: r.queueId, ts: r.ts, flags: { notification: r.flags === 1 }, sealed };
}

/**
 * Reads an inbox file, keeping every complete valid line. Empty lines are
 * skipped silently (an appender that repairs a torn tail writes a leading "\n").
 */
export function readInbox(path: string): InboxReadResult {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { records: [], markers: [], torn: null, bad: [] };
    throw e;
  }
  return parseInbox(buf);
}

export function parseInbox(buf: Buffer): InboxReadResult {
  const out: InboxReadResult = { records: [], markers: [], torn: null, bad: [] };
  let start = 0;
  let lineNo = 0;
  while (start < buf.length) {
    lineNo++;
    const nl = buf.indexOf(0x0a, start);
    if (nl === -1) {
      const raw = buf.subarray(start);
      out.torn = { line: lineNo, bytes: raw.length, code: 'INBOX_TORN_LINE', raw };
      break;
    }
    const raw = buf.subarray(start, nl);
    start = nl + 1;
    if (raw.length === 0) continue;
    const rec = parseLine(raw.toString('utf8'));
    if (typeof rec === 'string') out.bad.push({ lineNo, code: 'INBOX_BAD_LINE', reason: rec, raw });
    else if (isMarker(rec)) out.markers.push(rec);
    else out.records.push(rec);
  }
  return out;
}

const MARK = Buffer.from('"notified":true');

/**
 * The msgIds of the complete marker lines in `buf` (carried or not): parses only lines that mention the
 * marker key (a record's base64 and JSON-escaped ids cannot), so a scan of a big inbox stays cheap.
 */
export function markerIds(buf: Buffer): Set<string> {
  const out = new Set<string>();
  for (let at = buf.indexOf(MARK); at !== -1; ) {
    const start = buf.lastIndexOf(0x0a, at) + 1;
    const nl = buf.indexOf(0x0a, at);
    if (nl === -1) break; // torn tail: not durable, not a marker yet
    const k = parseLine(buf.subarray(start, nl).toString('utf8'));
    if (typeof k !== 'string' && isMarker(k)) out.add(k.msgId);
    at = buf.indexOf(MARK, nl);
  }
  return out;
}
