import { createRequire } from 'node:module';

/**
 * Typed access to the one fs-ext call we use. fs-ext ships no types, and a
 * global `declare module` would collide with other modules' declarations.
 */
interface FsExt {
  /** 'ex' | 'sh' | 'un' with optional 'nb'. Throws an Error with `code` (EAGAIN when busy). */
  flockSync(fd: number, flags: 'ex' | 'exnb' | 'sh' | 'shnb' | 'un'): void;
}

export const fsExt: FsExt = createRequire(import.meta.url)('fs-ext') as FsExt;

/** True for the error a non-blocking flock returns while another description holds the lock. */
export function isWouldBlock(e: unknown): boolean {
  const code = (e as { code?: string } | null)?.code;
  return code === 'EAGAIN' || code === 'EWOULDBLOCK';
}

/**
 * One non-blocking exclusive attempt: true = now held, false = busy.
 * fs-ext reports "busy" by throwing an ErrnoException, and capturing its stack
 * trace is most of the cost of a failed attempt (≈5 µs of ≈10 µs here) — a
 * waiter makes many, so the capture is switched off around the call. Any other
 * error is re-thrown with its stack captured where it is thrown from here.
 */
export function tryFlockEx(fd: number): boolean {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  let err: unknown;
  try {
    fsExt.flockSync(fd, 'exnb');
    return true;
  } catch (e) {
    err = e;
  } finally {
    Error.stackTraceLimit = limit;
  }
  if (isWouldBlock(err)) return false;
  if (err instanceof Error) Error.captureStackTrace(err, tryFlockEx);
  throw err;
}
