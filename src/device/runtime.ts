import { join } from 'node:path';
import { fromHex } from '../core/bytes.js';
import { deriveKeyRing, EnvelopeKind, open, seal, wipe } from '../core/crypto/index.js';
import { isNsekitError, NsekitError } from '../core/errors.js';
import type { Host, Notifier, RelayMessage, StoredMessage, Transport } from '../core/host.js';
import { e2eBinding, processInbound, type InboundDeps } from '../core/inbound/index.js';
import { PhaseController } from '../core/phase/index.js';
import { QueueCoordinator } from '../core/queue/index.js';
import { ipcFailpoints } from '../node/failpoints.js';
import { nodeClock, nodeRng, stderrLog, truncateSecret } from '../node/host.js';
import { createFlockLock } from '../node/lock/flock.js';
import type { CrossProcessLock } from '../node/lock/types.js';
import { PendingInboxFile } from '../node/pending-inbox/index.js';
import { SharedStore } from '../node/store/index.js';
import { WsTransport } from '../node/transport/ws-transport.js';
import { emitEvent, SHARED_FILES, type ProcConfig, type QueueConfig } from './ipc.js';

/** Decode a hex secret from config/IPC or fail loudly (typed). */
export function hexBytes(s: string | undefined, what: string): Uint8Array {
  const b = s ? fromHex(s) : null;
  if (!b) throw new NsekitError('CRYPTO_BAD_KEY', `${what} is not valid hex`);
  return b;
}

/**
 * Test-only broken protocol variants (sim/broken.ts; the simulator sets
 * NSEKIT_BROKEN for `--broken`). Read once; each is handed to the component
 * that implements it, as sim/fast does. Never set in production.
 */
const BROKEN_IN_RUNTIME = ['ack-before-write', 'no-lock-release-on-suspend', 'unserialized-get', 'ungated-db-when-suspended'] as const;
type RuntimeBroken = (typeof BROKEN_IN_RUNTIME)[number];
export function brokenFromEnv(v = process.env.NSEKIT_BROKEN): RuntimeBroken | undefined {
  return (BROKEN_IN_RUNTIME as readonly string[]).includes(v ?? '') ? (v as RuntimeBroken) : undefined;
}

/**
 * What the app and the NSE processes share: host, phase controller, lock,
 * store, pending inbox, relay transport, per-queue coordinator, the key state
 * and the inbound pipeline deps. Each process builds one `ProcRuntime`.
 *
 * Suspension: the phase controller's onSuspend hook closes the store
 * (checkpoint TRUNCATE, lock released) before `suspended` is emitted;
 * onActivate reopens it. The master key stays in memory across suspension
 * (as it does on iOS) and leaves only on `lock`.
 */
export class ProcRuntime {
  readonly host: Host;
  readonly lock: CrossProcessLock;
  readonly phase: PhaseController;
  readonly store: SharedStore;
  readonly inbox: PendingInboxFile;
  readonly transport: WsTransport;
  readonly queues: QueueCoordinator;
  /** The transport with ACK reporting (`acked` events). */
  private readonly ackingTransport: Transport;
  readonly queueCfg = new Map<string, QueueConfig & { e2e: Uint8Array }>();
  /** notifierId → queueId + notifier key, for opening push payloads. */
  readonly notifiers = new Map<string, { queueId: string; key: Uint8Array }>();
  private masterKey: Uint8Array | null = null;
  private bodyKeyBytes: Uint8Array | null = null;
  /** Outbox key (KeyRing.outbox); null while locked. */
  outboxKey: Uint8Array | null = null;
  readonly notifier: Notifier;
  /** test-only broken variant (NSEKIT_BROKEN), undefined in production. */
  readonly broken = brokenFromEnv();
  /** Pending-inbox appends in progress: suspension waits for them (they take the inbox flock). */
  private readonly inboxWrites = new Set<Promise<unknown>>();

  /**
   * The lease backend (proper-lockfile, graceful-fs, signal-exit) is loaded only
   * when configured: its module evaluation would otherwise sit on the NSE's
   * cold-start path.
   */
  static async create(cfg: ProcConfig): Promise<ProcRuntime> {
    if (cfg.lockBackend !== 'lease') return new ProcRuntime(cfg);
    const { createLeaseLock } = await import('../node/lock/lease.js');
    return new ProcRuntime(cfg, (path, host) => createLeaseLock(path, { host }));
  }

  constructor(
    readonly cfg: ProcConfig,
    makeLock: (path: string, host: Host) => CrossProcessLock = (path, host) => createFlockLock(path, { host }),
  ) {
    const log = stderrLog(cfg.role, cfg.logLevel ?? (process.env.NSEKIT_LOG as ProcConfig['logLevel']) ?? 'info');
    this.host = { clock: nodeClock, rng: nodeRng, log, failpoints: ipcFailpoints({ reportAll: process.env.NSEKIT_FP_REPORT === 'all' }) };
    const lockPath = join(cfg.sharedDir, SHARED_FILES.lock);
    this.lock = makeLock(lockPath, this.host);
    const broken = this.broken;
    if (broken) this.log('warn', 'phase', `test-only broken variant: ${broken}`);
    this.phase = new PhaseController(this.host, {
      proc: cfg.role,
      ...(broken === 'ungated-db-when-suspended' ? { broken } : {}),
      hooks: {
        onSuspend: async () => {
          // Also on a forced deadline: an inbox append still running holds (or is about to
          // take) the inbox flock, and iOS freezes us the moment we report `suspended`.
          await this.inboxIdle();
          await this.store.close();
          if (this.lock.held) await this.lock.release({ wrote: false });
          // test-only broken variant: the lock is kept across the suspension.
          if (broken === 'no-lock-release-on-suspend') await this.lock.acquire({ timeoutMs: 1_000 }).catch(() => {});
        },
        onActivate: async () => {
          this.store.open();
          // The key stayed in memory while suspended (or arrived meanwhile): re-verify it.
          if (this.masterKey && !this.store.unlocked) await this.store.unlock(this.masterKey);
        },
      },
    });
    this.store = new SharedStore({
      dbPath: join(cfg.sharedDir, SHARED_FILES.db),
      lock: this.lock,
      gate: this.phase,
      host: this.host,
      // The NSE is launched per push: the app (launched rarely, no budget) runs quick_check at open.
      ...(cfg.role === 'nse' ? { integrityCheck: 'none' as const } : {}),
    });
    this.inbox = new PendingInboxFile(join(cfg.sharedDir, SHARED_FILES.inbox), this.host);
    this.transport = new WsTransport({ url: cfg.relayUrl, host: this.host });
    for (const q of cfg.queues) {
      this.queueCfg.set(q.queueId, { ...q, e2e: hexBytes(q.e2eKey, `e2eKey of ${q.queueId}`) });
      this.transport.setQueueCreds(q.queueId, { recipientCred: q.recipientKey, ...(q.senderKey ? { senderCred: q.senderKey } : {}) });
      if (q.notifierId && q.notifierKey) this.notifiers.set(q.notifierId, { queueId: q.queueId, key: hexBytes(q.notifierKey, `notifierKey of ${q.queueId}`) });
    }
    // Every relay ACK (GET path via the coordinator, SUB path in handleDelivered) is
    // reported the moment the relay confirmed it.
    const t = this.transport;
    const reporting: Transport = {
      get: (q) => t.get(q),
      ack: async (q, id) => {
        await t.ack(q, id);
        emitEvent('acked', { msgId: id, queueId: q });
      },
      subscribe: (q, fn) => t.subscribe(q, fn),
      unsubscribe: (q) => t.unsubscribe(q),
      send: (q, b, f) => t.send(q, b, f),
    };
    this.ackingTransport = reporting;
    this.queues = new QueueCoordinator(this.host, reporting, { gate: this.phase, ...(broken === 'unserialized-get' ? { broken } : {}) });
    this.notifier = {
      show: async (c) => {
        this.log('info', cfg.role === 'nse' ? 'nse' : 'sync', 'notification content', { msgId: c.msgId, queueId: c.queueId });
        emitEvent('notification', { ...c });
      },
    };
    this.phase.on('phase', (e) => {
      this.log('info', 'phase', `phase ${e.phase}`);
      emitEvent('phase', { phase: e.phase });
    });
  }

  log(level: 'debug' | 'info' | 'warn' | 'error', tag: string, msg: string, fields?: Record<string, unknown>): void {
    this.host.log.log(level, tag, msg, fields);
  }

  get unlocked(): boolean {
    return this.masterKey !== null;
  }

  /** Open the store and connect to the relay. */
  async start(): Promise<void> {
    this.store.open();
    await this.ensureConnected();
  }

  private connecting: Promise<void> | null = null;
  /** Connect unless connected; concurrent callers share one attempt. */
  ensureConnected(): Promise<void> {
    if (this.transport.connected) return Promise.resolve();
    if (!this.connecting) {
      this.connecting = this.transport.connect().finally(() => (this.connecting = null));
    }
    return this.connecting;
  }

  /** The keychain handed us the master key. */
  async unlock(masterKeyHex: string): Promise<void> {
    const key = hexBytes(masterKeyHex, 'master key');
    this.masterKey = key;
    // One derivation for us and the store (on the NSE's cold path).
    const ring = deriveKeyRing(key);
    this.bodyKeyBytes = ring.body;
    this.outboxKey = ring.outbox;
    // Suspended: the store stays closed; onActivate unlocks it with the key we now hold.
    if (this.store.isOpen) await this.store.unlock(key, ring);
    wipe(ring.inbox, ring.notification, ring.keycheck);
    this.log('info', 'lock', 'device unlocked: key in memory', { key: truncateSecret(masterKeyHex) });
  }

  /** Device locked: the key leaves memory; inbound goes to the pending inbox. */
  lockDevice(): void {
    // Copies captured by an in-flight write are wiped too (it then fails instead of writing after lock).
    for (const k of [this.masterKey, this.bodyKeyBytes, this.outboxKey]) k?.fill(0);
    this.masterKey = null;
    this.bodyKeyBytes = null;
    this.outboxKey = null;
    this.store.lockDevice();
    this.log('info', 'lock', 'device locked: key wiped');
  }

  /**
   * Deps for the inbound pipeline; `store: null` routes to the pending inbox.
   * The store and inbox are wrapped so `stored` / `inboxed` events go out the
   * moment a write is durable — also when a later step (e.g. the ACK) fails.
   */
  inboundDeps(via: string, notifier: Notifier = this.notifier): InboundDeps {
    const rt = this;
    const store = this.store;
    const wrapped: InboundDeps['store'] = {
      putMessage: async (m) => {
        const inserted = await store.putMessage(m);
        emitEvent('stored', { msgId: m.msgId, queueId: m.queueId, via, duplicate: !inserted });
        return inserted;
      },
      hasMessage: (id) => store.hasMessage(id),
      markNotified: (id) => store.markNotified(id),
    };
    return {
      host: this.host,
      // Getters: a fetch loop that outlives a `lock` command sees the lock at its next
      // message. (Never spread these deps: `{...deps}` would freeze the getters' values.)
      get store() {
        return rt.unlocked && store.unlocked ? wrapped : null;
      },
      get bodyKey() {
        return rt.bodyKeyBytes;
      },
      inbox: {
        // The inbox is shared storage like the DB: its appends run in the database
        // class, so none starts after a suspension (or a yield to the app) began —
        // the app's inbox import then sees every append the NSE will ever make.
        // Marker appends and scans take the inbox flock too: tracked the same way.
        append: (m) =>
          this.phase.run('database', () =>
            this.trackInbox(async () => {
              await this.inbox.append(m);
              emitEvent('inboxed', { msgId: m.msgId, queueId: m.queueId, via });
            }),
          ),
        markNotified: (msgId, queueId) =>
          this.phase.run('database', () =>
            this.trackInbox(async () => {
              const fresh = await this.inbox.markNotified(msgId, queueId);
              emitEvent('inbox-marked', { msgId, queueId, via, fresh });
              return fresh;
            }),
          ),
        isNotified: (msgId) => this.phase.run('database', () => this.trackInbox(() => this.inbox.isNotified(msgId))),
      },
      notifier,
      e2eKey: (queueId: string) => this.queueCfg.get(queueId)?.e2e ?? null,
      logTag: this.cfg.role === 'nse' ? 'nse' : 'sync',
      ...(this.broken === 'ack-before-write' ? { broken: this.broken } : {}),
    };
  }

  private trackInbox<T>(fn: () => Promise<T>): Promise<T> {
    const p = fn();
    const settled = p.catch(() => {});
    this.inboxWrites.add(settled);
    void settled.finally(() => this.inboxWrites.delete(settled));
    return p;
  }

  /**
   * Wait out in-flight pending-inbox appends (one write + fsync each, bounded by
   * the append's own flock timeout). New ones cannot start: the database class is
   * blocked from the moment suspension began.
   */
  private async inboxIdle(): Promise<void> {
    for (let round = 0; round < 100 && this.inboxWrites.size > 0; round++) {
      this.log('warn', 'inbox', 'suspension waits for in-flight inbox appends', { inFlight: this.inboxWrites.size });
      emitEvent('inbox-wait', { inFlight: this.inboxWrites.size });
      await Promise.all([...this.inboxWrites]);
    }
  }

  /** Run one relay message (delivered by SUB) through the pipeline and ACK it after the durable write. */
  async handleDelivered(m: RelayMessage, via: string): Promise<void> {
    await processInbound(this.inboundDeps(via), m);
    await this.phase.run('receiveNetwork', () => this.ackingTransport.ack(m.queueId, m.msgId));
  }

  /** Import the pending inbox into the store (on unlock). */
  async importInbox(): Promise<number> {
    if (!this.unlocked || !this.store.isOpen) return 0;
    // Captured once: the app runs imports inside its serialized lifecycle, so no
    // `lock` can wipe the key mid-import (a throwing transform would set records aside).
    const bodyKey = this.bodyKeyBytes!;
    // Inbox records hold the relay body as received (e2e-sealed): re-seal with the at-rest key.
    const transform = (rec: StoredMessage): StoredMessage => {
      const e2e = this.queueCfg.get(rec.queueId)?.e2e;
      if (!e2e) throw new NsekitError('CRYPTO_BAD_KEY', `no end-to-end key for queue ${rec.queueId}`);
      const plain = open(e2e, e2eBinding(rec.queueId), rec.sealed);
      const sealed = seal(bodyKey, this.host.rng, { kind: EnvelopeKind.messageBody, recordId: rec.msgId, queueId: rec.queueId }, plain);
      plain.fill(0);
      return { ...rec, sealed };
    };
    const r = await this.inbox.importInto(this.store, { transform });
    if (r.records || r.markers) {
      this.log('info', 'sync', 'pending inbox imported', { ...r });
      emitEvent('imported', { count: r.inserted, records: r.records, duplicates: r.duplicates, markers: r.markers });
    }
    return r.inserted;
  }

  errorEvent(where: string, e: unknown): void {
    const code = isNsekitError(e) ? e.code : 'INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    this.log('error', this.cfg.role === 'nse' ? 'nse' : 'rt', `${where} failed`, { code, message });
    emitEvent('error', { where, code, message });
  }

  async close(): Promise<void> {
    try {
      await this.transport.close();
    } catch {
      /* closing anyway */
    }
    await this.store.close().catch(() => {});
    await this.lock.close().catch(() => {});
  }
}
