import { createFlockLock } from './flock.js';
import { createLeaseLock } from './lease.js';
import type { CrossProcessLock, FlockOptions, LeaseOptions } from './types.js';

export type { CrossProcessLock, FlockOptions, LeaseOptions, LockHost, CommonLockOptions } from './types.js';
export { createFlockLock } from './flock.js';
export { createLeaseLock } from './lease.js';
export { flockHolders, parseProcLocks, type ProcLockEntry } from './proc-locks.js';

export function createLock(
  backend: 'flock' | 'lease',
  lockPath: string,
  opts: FlockOptions & LeaseOptions = {},
): CrossProcessLock {
  return backend === 'flock' ? createFlockLock(lockPath, opts) : createLeaseLock(lockPath, opts);
}
