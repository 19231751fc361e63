/**
 * Ask the launcher (src/device/launcher.cjs) to write the V8 code cache of this
 * process's bundle now, if it does not have a current one. Call it once the
 * process has run the code its launches care about (the NSE: after its first
 * push). A no-op when not launched from a bundle (tsx, tests).
 */
export function saveCodeCache(): void {
  (globalThis as { __nsekitSaveCodeCache?: () => void }).__nsekitSaveCodeCache?.();
}

/** How this launch's code was compiled: 'used' the cache, 'none' existed, 'rejected' a stale one; 'unbundled' (tsx). */
export function codeCacheState(): 'used' | 'none' | 'rejected' | 'unbundled' {
  return (globalThis as { __nsekitCodeCacheState?: 'used' | 'none' | 'rejected' }).__nsekitCodeCacheState ?? 'unbundled';
}
