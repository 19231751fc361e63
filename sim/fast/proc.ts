/**
 * One simulated process instance (app or NSE): the shipping session runtime
 * (src/core/session) on the fast mode's ports — the shared lock table, the
 * in-memory store and inbox files, a relay connection — with the instance's
 * virtual clock, the world's seeded randomness and failpoints that feed the
 * history and the scenario's triggers. Nothing of the app's or the NSE's
 * behaviour is written here: that is src/core/session, as the Node processes
 * and the bridge run it.
 */
import { shownDigests } from '../history/digest.js';
import type { Gate } from '../../src/core/host.js';
import { SessionRuntime, type PushTokenPort, type SessionComponents, type SessionConfig, type SessionEventName, type StatusClient } from '../../src/core/session/index.js';
import { SimInbox } from './inbox.js';
import { SimLock } from './lock.js';
import type { ProcCtx } from './proc-ctx.js';
import { SimTransport } from './relay.js';
import { SimStore } from './store.js';
import type { SimInboxFiles } from './inbox.js';
import type { LockTable } from './lock.js';
import type { SimRelay } from './relay.js';
import type { Scheduler } from './scheduler.js';
import type { SimDb } from './store.js';

/** Session events recorded under their own name (as sim/orchestrator/observer.ts names them) (the ones the history already has from failpoints are left out). */
const FROM_FAILPOINTS: ReadonlySet<SessionEventName> = new Set(['stored', 'inboxed', 'acked', 'phase', 'inbox-marked']);

export class SimProc {
  readonly rt: SessionRuntime;
  readonly lock: SimLock;
  readonly store: SimStore;
  readonly transport: SimTransport;
  alive = true;
  frozen = false;
  /** Frozen after it reported `suspended` (iOS keeps it so; the final heal leaves it frozen, as in real mode). */
  frozenSuspended = false;

  constructor(
    /** The shared state every instance's ports act on: the kernel's lock table, the files, the relay. */
    w: { lockTable: LockTable; relay: SimRelay; sched: Scheduler; db: SimDb; inboxFiles: SimInboxFiles },
    readonly ctx: ProcCtx,
    cfg: SessionConfig,
    /** Called for every session event (the world applies the iOS rules that follow from it). */
    private readonly onEvent: (p: SimProc, name: SessionEventName, fields: Record<string, unknown>) => void,
    components?: SessionComponents,
    claimByRename = true,
    /** The app's push-token port (./push-tokens.ts). */
    pushToken?: PushTokenPort,
    /** The app's client for the relay's status endpoint (./status.ts). */
    status?: StatusClient,
  ) {
    this.lock = new SimLock(w.lockTable, ctx);
    this.transport = new SimTransport(w.relay, w.sched, ctx);
    let store: SimStore | null = null;
    this.rt = new SessionRuntime({
      cfg,
      host: ctx.host,
      events: { emit: (name, fields = {}) => this.sessionEvent(name, fields) },
      ports: (gate: Gate) => {
        store = new SimStore(w.db, this.lock, gate, ctx, cfg.storeSync);
        return { lock: this.lock, store, inbox: new SimInbox(w.inboxFiles, ctx, claimByRename), transport: this.transport, ...(pushToken ? { pushToken } : {}), ...(status ? { status } : {}) };
      },
      ...(components ? { components } : {}),
    });
    this.store = store!;
  }

  /** A session event of this process (sim/bridge: one a bridged core reported): into the history, then the world's rules. */
  sessionEvent(name: SessionEventName, fields: Record<string, unknown>): void {
    if (!FROM_FAILPOINTS.has(name)) this.record(name, fields);
    this.onEvent(this, name, fields);
  }

  get phase() {
    return this.rt.phase;
  }

  /** Session events, as the real observer names them (never message text). */
  private record(name: SessionEventName, fields: Record<string, unknown>): void {
    if (name === 'notification') {
      // A best-attempt banner (out of time) is not the message's notification.
      // Thread and badge as presented (docs/notifications.md), for the presentation checkers.
      const shown = { msgId: fields.msgId ?? null, queueId: fields.queueId, pushId: fields.pushId, threadId: fields.threadId, ...(fields.badge !== undefined ? { badge: fields.badge } : {}) };
      if (fields.bestAttempt === true) this.ctx.record('info', 'notify.placeholder', shown);
      else this.ctx.record('ok', 'notify', { ...shown, ...shownDigests(fields) });
      return;
    }
    // Never message text in the history. (A plain copy when there is none to drop: the rest pattern is a slow generic copy.)
    let safe: Record<string, unknown>;
    if ('title' in fields || 'body' in fields || 'text' in fields) {
      const { title: _t, body: _b, text: _x, ...rest } = fields;
      safe = rest;
    } else safe = { ...fields };
    this.ctx.record('info', name, safe);
  }
}
