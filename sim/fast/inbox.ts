/**
 * The pending inbox of the fast mode, modelled on src/node/pending-inbox:
 * appenders take a shared lock on the live file, write and fsync; the
 * importer claims the live file by rename (a fresh file takes its place),
 * waits out appenders still holding the claimed one (exclusive-lock
 * barrier), imports with dedupe and deletes the claim only after the store
 * commit. A claim left by a killed importer is imported first next time.
 * `notified` markers live in the same files and move into the store's
 * notifications with the records; a claim's own markers are also carried into
 * the live file (right after the barrier, before the commit and the unlink) so
 * locked processes still see them for one more import cycle.
 */
import type { PendingInbox, StoredMessage } from '../../src/core/host.js';
import type { BrokenVariant } from '../broken.js';
import type { ProcCtx } from './proc-ctx.js';
import type { SimStore } from './store.js';

interface InboxFile {
  records: StoredMessage[];
  /** msgIds of `notified` marker lines written by a processing. */
  notified: string[];
  /** msgIds of carried marker lines (written by an import; stored again by the next, not carried again). */
  carried: string[];
  /** Pids of appenders holding the shared lock on this inode (a kill drops theirs). */
  appenders: number[];
}

export class SimInboxFiles {
  live: InboxFile = emptyFile();
  /** Claimed by an importer, not yet deleted. */
  claims: InboxFile[] = [];

  /** The kernel drops a killed appender's flock. */
  dropPid(pid: number): void {
    for (const f of [this.live, ...this.claims]) f.appenders = f.appenders.filter((p) => p !== pid);
  }

  /** A marker (own or carried) for msgId in the live file or an unfinished claim. */
  marked(msgId: string): boolean {
    return [this.live, ...this.claims].some((f) => f.notified.includes(msgId) || f.carried.includes(msgId));
  }

  /** Every record still on disk (live file + leftover claims). */
  msgIds(): string[] {
    return [...this.claims.flatMap((c) => c.records), ...this.live.records].map((r) => r.msgId);
  }
}

export class SimInbox implements PendingInbox {
  constructor(
    private readonly files: SimInboxFiles,
    private readonly ctx: ProcCtx,
    private readonly broken?: BrokenVariant,
  ) {}

  async append(m: StoredMessage): Promise<void> {
    await this.ctx.hit('inbox.append', { msgId: m.msgId });
    // open + shared flock: from here an importer's barrier waits for us.
    const file = this.files.live;
    file.appenders.push(this.ctx.pid);
    await this.ctx.point();
    file.records.push({ ...m, sealed: m.sealed.slice() }); // write + fsync
    file.appenders.splice(file.appenders.indexOf(this.ctx.pid), 1);
  }

  /** Exclusive flock on the live file: the scan and the marker append are one step. */
  async markNotified(msgId: string): Promise<boolean> {
    const file = this.files.live;
    file.appenders.push(this.ctx.pid);
    await this.ctx.point();
    const fresh = !this.files.marked(msgId);
    if (fresh) file.notified.push(msgId); // write + fsync
    file.appenders.splice(file.appenders.indexOf(this.ctx.pid), 1);
    return fresh;
  }

  async isNotified(msgId: string): Promise<boolean> {
    await this.ctx.point();
    return this.files.marked(msgId);
  }

  /** Import every record into `store` (the app, on unlock/wake). Returns rows inserted. */
  async importInto(store: SimStore, transform: (r: StoredMessage) => StoredMessage): Promise<number> {
    if (this.broken === 'inbox-no-fsync-claim') return this.importBroken(store, transform);
    const { files } = this;
    const { live } = files;
    if (live.records.length > 0 || live.notified.length > 0 || live.carried.length > 0 || live.appenders.length > 0) {
      files.claims.push(live); // rename(live → claim): new appends go to a new file
      files.live = emptyFile();
    }
    let inserted = 0;
    while (files.claims.length > 0) {
      const claim = files.claims[0]!;
      for (let i = 0; claim.appenders.length > 0 && i < 1000; i++) await new Promise<void>((r) => this.ctx.clock.setTimer(1, r));
      // Carry before anything can delete the claim (see PendingInboxFile.carry): a kill from here
      // on leaves the claim, the next import carries it again (a doubled carried id is harmless).
      const carry = [...new Set(claim.notified)].filter((id) => !files.live.notified.includes(id) && !files.live.carried.includes(id));
      if (carry.length > 0) {
        files.live.carried.push(...carry); // exclusive flock on the live file, append + fsync
        await this.ctx.hit('inbox.import.carried', { markers: carry.length });
      }
      inserted += await store.putMessages(claim.records.map(transform), [...claim.notified, ...claim.carried]);
      await this.ctx.hit('inbox.import.committed', { records: claim.records.length });
      const i = files.claims.indexOf(claim);
      if (i >= 0) files.claims.splice(i, 1); // unlink after the commit
    }
    return inserted;
  }

  /** test-only broken variant: read the live file, import, then delete it — appends in between are lost. */
  private async importBroken(store: SimStore, transform: (r: StoredMessage) => StoredMessage): Promise<number> {
    const file = this.files.live;
    const read = [...file.records];
    if (read.length === 0) return 0;
    const n = await store.putMessages(read.map(transform), [...file.notified]);
    await this.ctx.hit('inbox.import.committed', { records: read.length });
    await this.ctx.point(); // the unlink is its own syscall
    file.records.length = 0; // unlink: whatever was appended since the read goes with it
    file.notified.length = 0;
    return n;
  }
}

function emptyFile(): InboxFile {
  return { records: [], notified: [], carried: [], appenders: [] };
}
