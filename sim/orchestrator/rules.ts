import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_FILES } from '../../src/device/ipc.js';
import type { ManagedProc } from '../../src/device/proc.js';
import { flockHolders, parseProcLocks } from '../../src/node/lock/proc-locks.js';
import type { HistoryRecorder } from '../history/index.js';

/**
 * The iOS rules that act on a process from outside (docs/processes.md "The device"): freeze with
 * the 0xdead10cc check, thaw, kill, jetsam. Each records its op with the
 * target `{proc, pid}` so the checkers can tell process instances apart.
 */
export class IosRules {
  constructor(
    private readonly h: HistoryRecorder,
    private readonly sharedDir: string,
    private readonly backend: 'flock' | 'lease',
  ) {}

  get lockPath(): string {
    return join(this.sharedDir, SHARED_FILES.lock);
  }

  /**
   * Who holds the shared lock, by the kernel (flock: /proc/locks for the lock
   * file's inode) or by the lease record (the `.lock` dir exists and `.owner`
   * names the pid). Never by asking the process.
   */
  holders(): number[] {
    if (this.backend === 'flock') return flockHolders(this.lockPath);
    try {
      if (!existsSync(`${this.lockPath}.lock`)) return [];
      const pid = Number(readFileSync(`${this.lockPath}.owner`, 'utf8').split(':')[0]);
      return Number.isInteger(pid) ? [pid] : [];
    } catch {
      return [];
    }
  }

  /**
   * File locks held by `pid` on the shared container's data files, from
   * /proc/locks: SQLite's POSIX locks on store.db / -wal / -shm (the database
   * is open — a connection keeps a shared lock on -shm — or a transaction is
   * running) and flocks on the pending inbox (an append or import in
   * progress). Our processes close the store and finish inbox I/O before they
   * report `suspended`, so at a freeze this must be empty (docs/processes.md "The device": "has the
   * DB file locked"; iOS kills for any file lock in the shared container).
   */
  dbFileLocks(pid: number): { file: string; access: string }[] {
    const db = join(this.sharedDir, SHARED_FILES.db);
    const files = new Map<string, string>();
    // The pending inbox too: an appender holds a shared flock on it while it writes + fsyncs.
    let inboxes: string[] = [];
    try {
      inboxes = readdirSync(this.sharedDir).filter((f) => f.startsWith(SHARED_FILES.inbox)).map((f) => join(this.sharedDir, f));
    } catch {
      /* no shared dir yet */
    }
    for (const f of [db, `${db}-wal`, `${db}-shm`, ...inboxes]) {
      try {
        files.set(statSync(f, { bigint: true }).ino.toString(), f.slice(this.sharedDir.length + 1));
      } catch {
        /* not there: nothing to hold */
      }
    }
    let text: string;
    try {
      text = readFileSync('/proc/locks', 'utf8');
    } catch {
      return [];
    }
    const out: { file: string; access: string }[] = [];
    for (const e of parseProcLocks(text)) {
      if (e.waiting || e.pid !== pid) continue;
      const file = files.get(e.ino.toString());
      if (file) out.push({ file, access: e.access });
    }
    return out;
  }

  /**
   * SIGSTOP; then ask the kernel whether the frozen pid holds the shared lock
   * or a lock on the database files. If so: record `lock.held-at-freeze`
   * (0xdead10cc) and SIGKILL, as iOS does.
   */
  freeze(role: string, p: ManagedProc, why: string): 'frozen' | 'killed' | 'gone' {
    if (!p.alive) return 'gone';
    this.sync(role, p);
    if (p.stopped && this.frozen.has(p.pid)) return 'frozen';
    // The device may have stopped it first (it freezes a suspended NSE itself): record and check all the same.
    const by = p.stopped ? 'device' : 'orchestrator';
    if (!p.stopped) p.signal('SIGSTOP');
    this.frozen.add(p.pid);
    this.h.ok('orchestrator', 'freeze', { proc: role, pid: p.pid, why, by });
    const held = this.holders().includes(p.pid);
    const dbLocks = this.dbFileLocks(p.pid);
    if (!held && dbLocks.length === 0) return 'frozen';
    this.h.info('orchestrator', 'lock.held-at-freeze', { proc: role, pid: p.pid, code: '0xdead10cc', backend: this.backend, sharedLock: held, dbFileLocks: dbLocks });
    this.kill(role, p, '0xdead10cc');
    return 'killed';
  }

  /** Pids this run has recorded as frozen and not yet as thawed. */
  private readonly frozen = new Set<number>();

  /** Record a thaw (the caller sent SIGCONT, or the device did to hand a push to the NSE). */
  thawed(role: string, pid: number, why: string): void {
    if (!this.frozen.delete(pid)) return;
    this.h.ok('orchestrator', 'thaw', { proc: role, pid, why });
  }

  /** A process recorded frozen is running again (the device SIGCONTed it): record the thaw. */
  sync(role: string, p: ManagedProc): void {
    if (this.frozen.has(p.pid) && !p.stopped) this.thawed(role, p.pid, 'device');
  }

  isFrozen(pid: number): boolean {
    return this.frozen.has(pid);
  }

  kill(role: string, p: ManagedProc, why: string, f: 'kill' | 'jetsam' = 'kill'): void {
    if (!p.alive) return;
    this.frozen.delete(p.pid);
    p.signal('SIGKILL');
    this.h.ok('orchestrator', f, { proc: role, pid: p.pid, why });
  }

  /** Resident set size in MB from /proc/<pid>/status, or null if gone. */
  static rssMb(pid: number): number | null {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : null;
    } catch {
      return null;
    }
  }
}
