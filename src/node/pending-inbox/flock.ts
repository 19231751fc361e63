import { createRequire } from 'node:module';

/**
 * fs-ext's flock on the inbox file itself (not the store lock): appenders take
 * it shared around one append, the importer takes it exclusive once as a
 * barrier after claiming the file. Non-blocking only, so a frozen peer can
 * never pin a libuv thread.
 */
const fsExt = createRequire(import.meta.url)('fs-ext') as {
  flockSync(fd: number, flags: 'sh' | 'ex' | 'shnb' | 'exnb' | 'un'): void;
};

/** True when taken, false when another process holds a conflicting lock. */
export function tryFlock(fd: number, mode: 'sh' | 'ex'): boolean {
  try {
    fsExt.flockSync(fd, mode === 'sh' ? 'shnb' : 'exnb');
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false;
    throw e;
  }
}

export function unflock(fd: number): void {
  fsExt.flockSync(fd, 'un');
}
