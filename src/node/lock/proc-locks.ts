import { readFileSync, statSync } from 'node:fs';

/**
 * Who holds a flock on a file, according to the kernel (`/proc/locks`).
 *
 * Lines look like `1: FLOCK  ADVISORY  WRITE 8820 fe:00:2146856 0 EOF`: the
 * device is `major:minor` in hex, the inode decimal. Lines with `->` are blocked
 * waiters, not holders, and are skipped. The simulator uses this to detect a
 * process frozen while holding the lock (iOS's 0xdead10cc).
 *
 * Returns [] when the file does not exist or /proc/locks is unreadable (non-Linux).
 */
export function flockHolders(lockPath: string): number[] {
  let dev: bigint;
  let ino: bigint;
  let text: string;
  try {
    const st = statSync(lockPath, { bigint: true });
    dev = st.dev;
    ino = st.ino;
    text = readFileSync('/proc/locks', 'utf8');
  } catch {
    return [];
  }
  const { major, minor } = splitDev(dev);
  const pids: number[] = [];
  for (const entry of parseProcLocks(text)) {
    if (entry.kind !== 'FLOCK' || entry.waiting) continue;
    if (entry.ino === ino && entry.major === major && entry.minor === minor) pids.push(entry.pid);
  }
  return pids;
}

export interface ProcLockEntry {
  kind: string; // FLOCK | POSIX | OFDLCK | LEASE
  mode: string; // ADVISORY | MANDATORY | …
  access: string; // READ | WRITE
  pid: number;
  major: bigint;
  minor: bigint;
  ino: bigint;
  /** A `->` line: a process blocked waiting for this lock, not a holder. */
  waiting: boolean;
}

export function parseProcLocks(text: string): ProcLockEntry[] {
  const out: ProcLockEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:\s+(->\s+)?(\S+)\s+(\S+)\s+(\S+)\s+(-?\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/i.exec(line);
    if (!m) continue;
    out.push({
      waiting: m[1] !== undefined,
      kind: m[2]!,
      mode: m[3]!,
      access: m[4]!,
      pid: Number(m[5]),
      major: BigInt(`0x${m[6]}`),
      minor: BigInt(`0x${m[7]}`),
      ino: BigInt(m[8]!),
    });
  }
  return out;
}

/** Linux dev_t → (major, minor), as glibc's gnu_dev_major/minor. */
function splitDev(dev: bigint): { major: bigint; minor: bigint } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
  const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
  return { major, minor };
}
