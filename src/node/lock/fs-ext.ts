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
