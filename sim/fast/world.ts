/**
 * The simulated world of one fast run: scheduler + virtual clock, relay,
 * push path, shared lock table, store file, pending-inbox files, and the
 * device: app and NSE instances running the shipping sessions
 * (src/core/session) on in-memory ports. Also the iOS rules the real
 * orchestrator enforces (docs/processes.md "iOS rules"): freeze with the 0xdead10cc
 * check (kill if the frozen pid holds the lock), thaw, kill (the kernel
 * drops the lock, uncommitted writes are lost), NSE launch/reuse on a push,
 * pushes suppressed while the app is in the foreground.
 */
import { sentDigests } from '../history/digest.js';
import { toBase64 } from '../../src/core/bytes.js';
import { sealForQueue } from '../../src/core/inbound/index.js';
import { sealNotificationId } from '../../src/core/protocol/index.js';
import type { SimProc } from './proc.js';
import { FastWorldCore, ORCH, type Role } from './world-core.js';

export { ORCH, type HitHook, type Role } from './world-core.js';

export class FastWorld extends FastWorldCore {
  // ---- iOS rules ---------------------------------------------------------------------------

  /** Resolves when this instance is frozen or dead (it can no longer answer). */
  stopped(p: SimProc): Promise<void> {
    if (p.frozen || !p.alive) return Promise.resolve();
    return new Promise<void>((r) => this.stopWaiters.push({ p, r }));
  }
  private stopWaiters: { p: SimProc; r: () => void }[] = [];
  private notifyStopped(p: SimProc): void {
    const hit = this.stopWaiters.filter((w) => w.p === p);
    this.stopWaiters = this.stopWaiters.filter((w) => w.p !== p);
    for (const w of hit) w.r();
  }

  freeze(role: Role, why: string): 'frozen' | 'killed' | 'gone' {
    const p = this.proc(role);
    if (!p) return 'gone';
    if (p.frozen) return 'frozen';
    p.frozen = true;
    p.frozenSuspended = why === 'suspended';
    this.notifyStopped(p);
    this.sched.freeze(p.ctx.owner);
    this.h.ok(ORCH, 'freeze', { proc: role, pid: p.ctx.pid, why });
    // As the real engine's kernel check: the shared lock, SQLite's file locks (an open store)
    // and the pending inbox's flocks (an append or import in progress).
    const sharedLock = this.lockTable.holder === p.ctx.pid;
    const dbFileLocks = [
      ...(p.store.fileOpen ? [{ file: 'store.db', access: 'READ' }] : []),
      ...(this.inboxFiles.holds(p.ctx.pid) ? [{ file: 'inbox', access: 'READ' }] : []),
    ];
    if (!sharedLock && dbFileLocks.length === 0) return 'frozen';
    this.h.info(ORCH, 'lock.held-at-freeze', { proc: role, pid: p.ctx.pid, code: '0xdead10cc', backend: 'sim', sharedLock, dbFileLocks });
    this.kill(role, '0xdead10cc');
    return 'killed';
  }

  thaw(role: Role, why: string): void {
    const p = this.proc(role);
    if (!p || !p.frozen) return;
    p.frozen = false;
    p.frozenSuspended = false;
    this.sched.thaw(p.ctx.owner);
    this.h.ok(ORCH, 'thaw', { proc: role, pid: p.ctx.pid, why });
  }

  kill(role: Role, why: string, f: 'kill' | 'jetsam' = 'kill'): void {
    const p = this.proc(role);
    if (!p) return;
    p.alive = false;
    p.frozen = false;
    this.notifyStopped(p);
    this.sched.kill(p.ctx.owner);
    this.lockTable.dropPid(p.ctx.pid);
    this.inboxFiles.dropPid(p.ctx.pid);
    void p.transport.close();
    this.h.ok(ORCH, f, { proc: role, pid: p.ctx.pid, why });
    // An app that is gone fetches nothing: the NSE takes pushes again.
    if (role === 'app') void this.postNse((n) => n.setAppActive(false));
  }

  /** The phone loses power: both processes die at once, unsynced store commits are gone. */
  powerCut(): void {
    const lost = this.db.powerCut();
    this.h.ok(ORCH, 'power-cut', { unsyncedCommitsLost: lost });
    for (const role of ['app', 'nse'] as const) this.kill(role, 'power-cut');
  }

  // ---- push path ---------------------------------------------------------------------------

  protected notify(queueId: string, msgId?: string): void {
    if (!this.tokens.pushable(queueId, this.h)) return; // no active token, or one the gateway refuses
    const push = { queueId, msgId };
    if (this.pushesHeld) {
      this.heldPushes.push(push);
      return;
    }
    this.sched.setTimer(ORCH, this.relay.latency(), () => this.deliverPush(queueId, msgId));
  }

  releasePushes(): void {
    this.pushesHeld = false;
    const qs = this.heldPushes.splice(0);
    for (const q of qs) this.sched.setTimer(ORCH, this.relay.latency(), () => this.deliverPush(q.queueId, q.msgId));
    if (qs.length) this.h.ok(ORCH, 'delay-push.released', { pushes: qs.length });
  }

  /** A mutable-content push: suppressed while the app is in the foreground, else to a live or new NSE. */
  deliverPush(queueId: string, msgId?: string): void {
    const suppressed = this.appState === 'active' && !!this.proc('app');
    this.h.info('device', 'push', { queueId, suppressed });
    if (suppressed) return;
    // The app was told to leave but may still be finishing a fetch: wait (bounded) until it is
    // no longer `active`, so the NSE never GETs a queue the app is still fetching (src/device).
    const app = this.proc('app');
    if (app && !app.frozen && this.leftFront.get(app) === false) {
      void Promise.race([this.nextEvent(app, 'left-front'), this.sched.delay(ORCH, 2_000)]).then(() => this.toNse(queueId, msgId));
      return;
    }
    this.toNse(queueId, msgId);
  }

  private toNse(queueId: string, msgId?: string): void {
    if (!this.proc('nse')) this.launchNse();
    if (this.nse!.p.frozen) this.thaw('nse', 'push');
    // The app came to the front meanwhile: the NSE must not GET (it hands the push over).
    if (this.appState === 'active' && this.proc('app')) this.tellAppActive();
    const push = { type: 'push' as const, pushId: `p${++this.pushSeq}`, receivedAt: this.sched.now, items: [this.pushItem(queueId, msgId)] };
    this.unstarted++;
    void this.postNse((n) => n.push(push));
    this.onNsePush();
  }

  /** What the push gateway hands the device for one message: the notifier id and the sealed message id (docs/protocol.md). */
  private pushItem(queueId: string, msgId?: string): { notifierId: string; sealed?: string } {
    const n = this.notifierKeys.get(queueId)!;
    if (msgId === undefined) return { notifierId: n.nid };
    return { notifierId: n.nid, sealed: toBase64(sealNotificationId(n.key, this.rng, n.nid, { msgId, ts: this.sched.now })) };
  }
  /** Hook for the orchestrator's NSE budget (set by the runner). */
  onNsePush: () => void = () => {};

  // ---- senders -----------------------------------------------------------------------------

  send(queue: number, sender: number, notification: boolean, bytes: number, poison = false): void {
    if (this.fanout) return this.fanout(queue, sender, notification, bytes, poison);
    const queueId = this.queueIds[queue]!;
    const n = this.markers.length + 1;
    const marker = `nsekitPLAIN${n}z`;
    this.markers.push(marker);
    const text = (marker + ' ' + 'x'.repeat(Math.max(0, bytes - marker.length - 1))).slice(0, Math.max(marker.length, bytes));
    this.h.invoke('sender', 'send', { label: `m${n}`, queueId, sender }, { ref: n });
    // A poison message is sealed under a key the device does not have: it never opens there.
    const body = sealForQueue(poison ? this.rng.randomBytes(32) : this.e2eKeys.get(queueId)!, this.rng, queueId, { type: 'text', text });
    const m = this.relay.send(queueId, body, { notification });
    this.h.ok('sender', 'send', { label: `m${n}`, queueId, msgId: m.msgId, notification, ...sentDigests(text), ...(poison ? { poison } : {}) }, { ref: n });
  }
}
