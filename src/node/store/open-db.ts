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
    throw e;
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
 * Opens the connection and runs quick_check before any pragma that writes
 * (journal_mode), so a damaged file is refused without being modified.
 */
export function openChecked(dbPath: string, busyTimeoutMs: number): Database.Database {
  checkHeader(dbPath);
  let db: Database.Database | undefined;
  try {
    db = new Database(dbPath, { timeout: busyTimeoutMs });
    const qc = db.pragma('quick_check', { simple: true });
    if (qc !== 'ok') throw new NsekitError('STORE_CORRUPT', `${dbPath}: quick_check: ${String(qc)}`, { dbPath });
    return db;
  } catch (e) {
    db?.close();
    if (e instanceof NsekitError) throw e;
    const code = (e as { code?: string }).code ?? '';
    if (CORRUPT_CODES.has(code)) {
      throw new NsekitError('STORE_CORRUPT', `${dbPath}: ${(e as Error).message}`, { dbPath, sqlite: code });
    }
    throw e;
  }
}
