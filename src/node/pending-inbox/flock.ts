import { fsExt, isWouldBlock } from '../lock/fs-ext.js';

/**
 * fs-ext's flock on the inbox file itself (not the store lock): appenders take
 * it shared around one append, the importer takes it exclusive once as a
 * barrier after claiming the file. Non-blocking only, so a frozen peer can
 * never pin a libuv thread.
 */

/** True when taken, false when another process holds a conflicting lock. */
export function tryFlock(fd: number, mode: 'sh' | 'ex'): boolean {
  try {
    fsExt.flockSync(fd, mode === 'sh' ? 'shnb' : 'exnb');
    return true;
  } catch (e) {
    if (isWouldBlock(e)) return false;
    throw e;
  }
}

export function unflock(fd: number): void {
  fsExt.flockSync(fd, 'un');
}
