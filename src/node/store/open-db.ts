import fs from 'node:fs';
import Database from 'better-sqlite3';
import { NsekitError } from '../../core/errors.js';

const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Checks the 100-byte SQLite header before SQLite sees the file, so a
 * non-database or a truncated one is reported as STORE_CORRUPT and left
 * byte-for-byte untouched for forensics (we never write to it).
 */
function checkHeader(dbPath: string): void {
  let size: number;
  try {
    size = fs.statSync(dbPath).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return; // new store
    throw toStoreError(e, dbPath);
  }
  if (size === 0) return; // created but never written: SQLite treats it as empty
  const corrupt = (why: string) => new NsekitError('STORE_CORRUPT', `${dbPath}: ${why}`, { dbPath, size });
  if (size < 100) throw corrupt(`truncated header (${size} bytes)`);
  const fd = fs.openSync(dbPath, 'r');
  const h = Buffer.alloc(100);
  try {
    fs.readSync(fd, h, 0, 100, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (!h.subarray(0, 16).equals(MAGIC)) throw corrupt('not an SQLite database (bad magic)');
  const raw = h.readUInt16BE(16);
  const pageSize = raw === 1 ? 65536 : raw;
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) throw corrupt(`bad page size ${raw}`);
  if (size % pageSize !== 0) throw corrupt(`size ${size} is not a multiple of the page size ${pageSize}`);
}

const CORRUPT_CODES = new Set(['SQLITE_NOTADB', 'SQLITE_CORRUPT', 'SQLITE_CORRUPT_VTAB', 'SQLITE_CORRUPT_SEQUENCE']);

/**
 * Opens the connection and (unless `quick` is false) runs quick_check before
 * any pragma that writes (journal_mode), so a damaged file is refused without
 * being modified.
 */
export function openChecked(dbPath: string, busyTimeoutMs: number, quick = true): Database.Database {
  checkHeader(dbPath);
  let db: Database.Database | undefined;
  try {
    try {
      db = new Database(dbPath, { timeout: busyTimeoutMs });
    } catch (e) {
      // better-sqlite3 throws a code-less TypeError for a missing directory.
      const code = (e as { code?: string }).code;
      throw new NsekitError('STORE_IO', `${dbPath}: ${(e as Error).message}`, { dbPath, errno: code ?? 'OPEN' });
    }
    const qc = quick ? db.pragma('quick_check', { simple: true }) : 'ok';
    if (qc !== 'ok') throw new NsekitError('STORE_CORRUPT', `${dbPath}: quick_check: ${String(qc)}`, { dbPath });
    return db;
  } catch (e) {
    db?.close();
    throw toStoreError(e, dbPath);
  }
}

const IO_CODES = /^(SQLITE_(CANTOPEN|IOERR|FULL|PERM|READONLY)|E[A-Z]+$)/;

/** Maps SQLite/OS errors to typed ones; anything else (a bug) passes through unchanged. */
export function toStoreError(e: unknown, dbPath: string): unknown {
  if (e instanceof NsekitError) return e;
  const code = (e as { code?: string }).code ?? '';
  const msg = `${dbPath}: ${(e as Error).message}`;
  if (CORRUPT_CODES.has(code)) return new NsekitError('STORE_CORRUPT', msg, { dbPath, sqlite: code });
  if (IO_CODES.test(code)) return new NsekitError('STORE_IO', msg, { dbPath, errno: code });
  return e;
}
