import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { NsekitError } from '../../core/errors.js';

/** Map an OS error on the lock file to LOCK_DIR_MISSING (never created for you) or LOCK_IO. */
export function lockIoError(lockPath: string, op: string, e: unknown): NsekitError {
  const code = (e as { code?: string } | null)?.code;
  if ((code === 'ENOENT' || code === 'ENOTDIR') && !existsSync(dirname(lockPath))) {
    return new NsekitError('LOCK_DIR_MISSING', `directory of lock file ${lockPath} does not exist`, {
      lockPath,
      dir: dirname(lockPath),
    });
  }
  return new NsekitError('LOCK_IO', `${op} ${lockPath}: ${e instanceof Error ? e.message : String(e)}`, {
    lockPath,
    op,
    osCode: code,
  });
}
