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
import type { StoredMessage } from '../../src/core/host.js';
import { emptyImportResult, MARKER_CARRY_MS, type ImportOptions, type ImportResult, type InboxImportTarget, type SessionInbox } from '../../src/core/session/index.js';
import type { ProcCtx } from './proc-ctx.js';

export interface InboxFile {
  records: StoredMessage[];
  /** msgIds of `notified` marker lines written by a processing. */
  notified: string[];
  /** msgIds of carried marker lines (written by an import; stored again by every import, carried on while young). */
  carried: string[];
  /** When each carried marker was first carried (as the Node inbox's `at`). */
  carriedAt: Map<string, number>;
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

  /** `pid` holds a flock on an inbox file (an append or a marker write in progress). */
  holds(pid: number): boolean {
    return [this.live, ...this.claims].some((f) => f.appenders.includes(pid));
  }

  /** A marker (own or carried) for msgId in the live file or an unfinished claim. */
  marked(msgId: string): boolean {
    return [this.live, ...this.claims].some((f) => f.notified.includes(msgId) || f.carried.includes(msgId));
  }

  /** The importer's exclusive-lock barrier: appenders still holding the claimed file finish first. */
  async barrier(claim: InboxFile, ctx: ProcCtx): Promise<void> {
    for (let i = 0; claim.appenders.length > 0 && i < 1000; i++) await new Promise<void>((r) => ctx.clock.setTimer(1, r));
  }

  /**
   * Carry the claim's markers into the live file (exclusive flock, append + fsync): its own markers
   * first carried now, carried ones on until MARKER_CARRY_MS after they first were; ids the live
   * file has already are skipped. Returns the ids carried.
   */
  carry(claim: InboxFile, now: number): string[] {
    const young = claim.carried.filter((id) => now - (claim.carriedAt.get(id) ?? -Infinity) < MARKER_CARRY_MS);
    const carry = [...new Set([...claim.notified, ...young])].filter((id) => !this.live.notified.includes(id) && !this.live.carried.includes(id));
    for (const id of carry) this.live.carriedAt.set(id, claim.carriedAt.get(id) ?? now);
    this.live.carried.push(...carry);
    return carry;
  }

  /** Claim the live file by rename if it holds anything (new appends go to a fresh file). */
  claimLive(): void {
    const { live } = this;
    if (live.records.length > 0 || live.notified.length > 0 || live.carried.length > 0 || live.appenders.length > 0) {
      this.claims.push(live);
      this.live = emptyFile();
    }
  }

  /** Every record still on disk (live file + leftover claims). */
  msgIds(): string[] {
    return [...this.claims.flatMap((c) => c.records), ...this.live.records].map((r) => r.msgId);
  }
}

export class SimInbox implements SessionInbox {
  constructor(
    private readonly files: SimInboxFiles,
    private readonly ctx: ProcCtx,
    /** False only for the simulator's `inbox-no-fsync-claim` variant (sim/broken.ts): import without the rename claim. */
    private readonly claimByRename = true,
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

  /** Import every record into `store` (the app, on unlock/wake). */
  async importInto(store: InboxImportTarget, opts: ImportOptions = {}): Promise<ImportResult> {
    const r = emptyImportResult();
    const transform = async (rec: StoredMessage) => (opts.transform ? opts.transform(rec) : rec);
    if (!this.claimByRename) return this.importUnclaimed(store, transform, r);
    const { files } = this;
    files.claimLive(); // rename(live → claim): new appends go to a new file
    while (files.claims.length > 0) {
      const claim = files.claims[0]!;
      await files.barrier(claim, this.ctx);
      // Carry before anything can delete the claim (see PendingInboxFile.carry): a kill from here
      // on leaves the claim, the next import carries it again (a doubled carried id is harmless).
      const carry = files.carry(claim, this.ctx.clock.now());
      if (carry.length > 0) await this.ctx.hit('inbox.import.carried', { markers: carry.length });
      r.files++;
      r.carried += carry.length;
      const recs = await transformAll(claim.records, transform, r);
      const markers = [...claim.notified, ...claim.carried];
      const n = await store.putMessages(recs, markers);
      r.inserted += n;
      r.records += claim.records.length;
      r.duplicates += recs.length - n;
      r.markers += markers.length;
      await this.ctx.hit('inbox.import.committed', { records: claim.records.length });
      const i = files.claims.indexOf(claim);
      if (i >= 0) files.claims.splice(i, 1); // unlink after the commit
    }
    return r;
  }

  /** The simulator's broken variant: read the live file, import, then delete it — appends in between are lost. */
  private async importUnclaimed(store: InboxImportTarget, transform: (r: StoredMessage) => Promise<StoredMessage>, r: ImportResult): Promise<ImportResult> {
    const file = this.files.live;
    const read = [...file.records];
    if (read.length === 0) return r;
    const n = await store.putMessages(await transformAll(read, transform, r), [...file.notified]);
    r.records += read.length;
    r.inserted += n;
    await this.ctx.hit('inbox.import.committed', { records: read.length });
    await this.ctx.point(); // the unlink is its own syscall
    file.records.length = 0; // unlink: whatever was appended since the read goes with it
    file.notified.length = 0;
    return r;
  }
}

/** Re-seal every record; a CRYPTO_* failure sets that record aside (as src/node/pending-inbox does). */
async function transformAll(recs: StoredMessage[], transform: (r: StoredMessage) => Promise<StoredMessage>, r: ImportResult): Promise<StoredMessage[]> {
  const out: StoredMessage[] = [];
  for (const rec of recs) {
    try {
      out.push(await transform(rec));
    } catch (e) {
      if (!String((e as { code?: string }).code ?? '').startsWith('CRYPTO_')) throw e;
      r.rejected++;
    }
  }
  return out;
}

function emptyFile(): InboxFile {
  return { records: [], notified: [], carried: [], carriedAt: new Map(), appenders: [] };
}
