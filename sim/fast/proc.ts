/**
 * One simulated process instance (app or NSE) built from the REAL core:
 * PhaseController (gates, ordered drain), QueueCoordinator (per-queue
 * GET→ACK slot), the inbound pipeline and the crypto — wired to the fast
 * mode's lock, store, inbox and relay connection. The same wiring as
 * src/device/runtime.ts: onSuspend closes the store (checkpoint under the
 * lock) and lets the lock go; onActivate reopens it.
 */
import { deriveKey, EnvelopeKind, open, seal } from '../../src/core/crypto/index.js';
import type { StoredMessage } from '../../src/core/host.js';
import { e2eBinding, type InboundDeps } from '../../src/core/inbound/index.js';
import { PhaseController } from '../../src/core/phase/index.js';
import { QueueCoordinator } from '../../src/core/queue/index.js';
import type { BrokenVariant } from '../broken.js';
import { SimInbox } from './inbox.js';
import { SimLock } from './lock.js';
import type { ProcCtx } from './proc-ctx.js';
import { SimTransport } from './relay.js';
import { SimStore } from './store.js';
import type { FastWorld } from './world.js';

export class SimProc {
  readonly phase: PhaseController;
  readonly lock: SimLock;
  readonly store: SimStore;
  readonly inbox: SimInbox;
  readonly transport: SimTransport;
  readonly queues: QueueCoordinator;
  frozen = false;
  alive = true;
  private bodyKey: Uint8Array | null = null;

  constructor(
    readonly w: FastWorld,
    readonly ctx: ProcCtx,
    unlocked: boolean,
    readonly broken: BrokenVariant | undefined,
  ) {
    const host = ctx.host;
    this.lock = new SimLock(w.lockTable, ctx);
    this.phase = new PhaseController(host, {
      proc: ctx.proc,
      ...(broken === 'ungated-db-when-suspended' ? { broken } : {}),
      hooks: {
        onSuspend: async () => {
          await this.store.close();
          // test-only broken variant: the lock stays held across the suspension.
          if (this.lock.held && broken !== 'no-lock-release-on-suspend') await this.lock.release({ wrote: false });
        },
        onActivate: () => this.store.open(),
      },
    });
    this.store = new SimStore(w.db, this.lock, this.phase, ctx, broken);
    this.inbox = new SimInbox(w.inboxFiles, ctx, broken);
    this.transport = new SimTransport(w.relay, w.sched, ctx);
    this.queues = new QueueCoordinator(host, this.transport, {
      gate: this.phase,
      ...(broken === 'unserialized-get' ? { broken } : {}),
    });
    if (unlocked) this.unlock();
  }

  get unlocked(): boolean {
    return this.bodyKey !== null;
  }
  unlock(): void {
    this.bodyKey = deriveKey(this.w.masterKey, 'body');
  }
  lockDevice(): void {
    this.bodyKey?.fill(0);
    this.bodyKey = null;
  }

  /**
   * Deps for the pipeline, as src/device/runtime.ts builds them: `store` and `bodyKey` are
   * getters (a fetch loop that outlives a `lock` sees it at its next message), and inbox
   * appends run in the database class (none starts once a suspension or a yield began).
   */
  inboundDeps(): InboundDeps {
    return (this.deps ??= this.makeDeps()); // live getters: one object serves every fetch
  }
  private deps: InboundDeps | null = null;
  private makeDeps(): InboundDeps {
    const self = this;
    return {
      host: this.ctx.host,
      get store() {
        return self.unlocked ? self.store : null;
      },
      get bodyKey() {
        return self.bodyKey;
      },
      inbox: {
        append: (m) => this.phase.run('database', () => this.inbox.append(m)),
        markNotified: (id) => this.phase.run('database', () => this.inbox.markNotified(id)),
        isNotified: (id) => this.phase.run('database', () => this.inbox.isNotified(id)),
      },
      notifier: { show: async () => {} },
      e2eKey: (q) => this.w.e2eKeys.get(q) ?? null,
      logTag: this.ctx.proc === 'nse' ? 'nse' : 'sync',
      ...(this.broken === 'ack-before-write' ? { broken: this.broken } : {}),
    };
  }

  /** Import the pending inbox (records hold the e2e-sealed relay body: re-seal at rest). */
  async importInbox(): Promise<number> {
    if (!this.unlocked || !this.store.isOpen) return 0;
    const bodyKey = this.bodyKey!;
    const transform = (rec: StoredMessage): StoredMessage => {
      const plain = open(this.w.e2eKeys.get(rec.queueId)!, e2eBinding(rec.queueId), rec.sealed);
      const sealed = seal(bodyKey, this.ctx.host.rng, { kind: EnvelopeKind.messageBody, recordId: rec.msgId, queueId: rec.queueId }, plain);
      plain.fill(0);
      return { ...rec, sealed };
    };
    return this.inbox.importInto(this.store, transform);
  }
}
