/**
 * What an app session and an NSE session share: host, phase controller,
 * ports (lock, store, pending inbox, relay transport), the per-queue
 * coordinator, the key state and the inbound pipeline deps. Portable: every
 * effect goes through a port (./ports.ts) or the host (../host.ts).
 *
 * Suspension: the phase controller's onSuspend hook waits for pending-inbox
 * appends, closes the store (checkpoint, lock released) before `suspended`
 * is reported; onActivate reopens it. The master key stays in memory across
 * suspension (as it does on iOS) and leaves only on `lock`.
 */
import { fromHex } from '../bytes.js';
import { deriveKeyRing, wipe } from '../crypto/index.js';
import { isNsekitError, NsekitError } from '../errors.js';
import type { Gate, Host, LogLevel, Notifier, RelayMessage, Transport } from '../host.js';
import { deliverInbound, type InboundDeps, type InboundOutcome } from '../inbound/index.js';
import { PhaseController } from '../phase/index.js';
import { QueueCoordinator, type QueueCoordinatorOptions } from '../queue/index.js';
import type { QueueConfig, SessionConfig } from './config.js';
import type { EventSink, SessionEventName } from './events.js';
import { importPendingInbox } from './inbox-import.js';
import { makeInboundDeps } from './inbound-deps.js';
import { InboxWrites } from './inbox-writes.js';
import { Presenter } from './notify.js';
import { ReadSync } from './read-sync.js';
import { retryQuarantined } from './quarantine.js';
import type { SessionPorts } from './ports.js';
import { LOCK_RETRY, lockHolderOf, retryOnLockTimeout, withDetails } from './lock-retry.js';

export { LOCK_RETRY, lockHolderOf, withDetails } from './lock-retry.js';

/** Decode a hex secret from config or a command, or fail loudly (typed). */
export function hexBytes(s: string | undefined, what: string): Uint8Array {
  const b = s ? fromHex(s) : null;
  if (!b) throw new NsekitError('CRYPTO_BAD_KEY', `${what} is not valid hex`);
  return b;
}

/**
 * Replaceable parts, for a host that composes differently (the simulator
 * wraps them to plant known faults it must catch; see docs/fast-mode.md).
 * Production hosts pass none.
 */
export interface SessionComponents {
  /** Wraps the gate the store, the inbox and the coordinator run their operations in. */
  gate?: (g: Gate) => Gate;
  /** Wraps the ports once built. */
  ports?: (p: SessionPorts) => SessionPorts;
  /** Builds the per-queue coordinator. */
  queues?: (host: Host, transport: Transport, opts: QueueCoordinatorOptions) => QueueCoordinator;
}

/** Per-fetch options of the pipeline deps (they are not shared with other fetches). */
export interface InboundDepsOptions {
  /** Asked before each LOCK_TIMEOUT retry of a write (the NSE: its push still has time, the app is not in front). */
  retryWhile?: () => boolean;
  /** Bounds of those retries (default LOCK_RETRY); `retryWhile` may end them sooner. */
  retryLimits?: { attempts: number; windowMs: number };
  /** A message of this fetch went into the quarantine (the NSE shows nothing for it, not even at expiry). */
  onQuarantined?: (msgId: string) => void;
  /** A read marker of this fetch was applied (the NSE shows nothing for it, not even at expiry). */
  onControl?: (msgId: string) => void;
}

export interface SessionRuntimeOptions {
  cfg: SessionConfig;
  host: Host;
  events: EventSink;
  /** Builds the ports; the store and inbox run their operations in `gate`. */
  ports: (gate: Gate) => SessionPorts;
  components?: SessionComponents;
}

export class SessionRuntime {
  readonly cfg: SessionConfig;
  readonly host: Host;
  readonly events: EventSink;
  readonly phase: PhaseController;
  /** What the store, inbox and coordinator run their operations in (the phase controller, unless wrapped). */
  readonly gate: Gate;
  readonly ports: SessionPorts;
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
  /** Thread, badge and read state of what this process shows (./notify.ts). */
  readonly presenter: Presenter;
  /** Reads shared with the user's other devices (./read-sync.ts). */
  readonly readSync: ReadSync;
  /** Set by the app: an append of its own finished with the key in memory (see inboundDeps). */
  onInboxAppendedUnlocked?: () => void;
  /**
   * Set by the app: a SUB delivery failed and was not ACKed (e.g. its write still met LOCK_TIMEOUT
   * after the retries), so the relay holds it in flight and sends nothing more on that SUB: the
   * app re-fetches through a wake instead of waiting for the next foreground.
   */
  onDeliveryFailed?: (queueId: string, e: unknown) => void;
  /** Pending-inbox operations in progress: suspension waits for them (they take the inbox file lock). */
  private readonly inboxWrites = new InboxWrites((inFlight) => {
    this.log('warn', 'inbox', 'suspension waits for in-flight inbox appends', { inFlight });
    this.emit('inbox-wait', { inFlight });
  });
  private connecting: Promise<void> | null = null;
  /** The close begun at device lock: an unlock or activation waits for it before opening again. */
  private storeClosing: Promise<void> | null = null;
  private deps: Map<string, InboundDeps> = new Map();

  constructor(o: SessionRuntimeOptions) {
    const { cfg, host } = o;
    this.cfg = cfg;
    this.host = host;
    this.events = o.events;
    this.phase = new PhaseController(host, {
      proc: cfg.role,
      hooks: {
        onSuspend: async () => {
          // Receives the deadline forced past are void: the message stays at the relay.
          this.queues.abandonHeld();
          // Also on a forced deadline: an inbox append still running holds (or is about to
          // take) the inbox file lock, and iOS freezes us the moment we report `suspended`.
          await this.inboxWrites.idle();
          await this.store.close();
          if (this.lock.held) await this.lock.release({ wrote: false });
        },
        // The key stayed in memory while suspended (or arrived meanwhile): open and re-verify it.
        onActivate: () => this.openStore(),
      },
    });
    const c = o.components ?? {};
    this.gate = c.gate ? c.gate(this.phase) : this.phase;
    const built = o.ports(this.gate);
    this.ports = c.ports ? c.ports(built) : built;
    for (const q of cfg.queues) {
      this.queueCfg.set(q.queueId, { ...q, e2e: hexBytes(q.e2eKey, `e2eKey of ${q.queueId}`) });
      this.transport.setQueueCreds(q.queueId, { recipientCred: q.recipientKey, ...(q.senderKey ? { senderCred: q.senderKey } : {}) });
      if (q.notifierId && q.notifierKey) this.notifiers.set(q.notifierId, { queueId: q.queueId, key: hexBytes(q.notifierKey, `notifierKey of ${q.queueId}`) });
    }
    // Every relay ACK (GET path via the coordinator, SUB path in handleDelivered) is
    // reported the moment the relay confirmed it.
    const t = this.transport;
    this.ackingTransport = {
      get: (q) => t.get(q),
      ack: async (q, id) => {
        await t.ack(q, id);
        this.emit('acked', { msgId: id, queueId: q });
      },
      subscribe: (q, fn) => t.subscribe(q, fn),
      unsubscribe: (q) => t.unsubscribe(q),
      send: (q, b, f, opts) => t.send(q, b, f, opts),
    };
    // The NSE receives only for pushes: its GET..ACKs are notificationNetwork ops (drained first).
    const qopts: QueueCoordinatorOptions = { gate: this.gate, ...(cfg.role === 'nse' ? { receiveClass: 'notificationNetwork' as const } : {}) };
    this.queues = c.queues ? c.queues(host, this.ackingTransport, qopts) : new QueueCoordinator(host, this.ackingTransport, qopts);
    this.presenter = new Presenter(this);
    this.readSync = new ReadSync(this);
    // Thread and badge set, nothing shown for a message already read (./notify.ts).
    this.notifier = {
      show: (n) =>
        this.presenter.show(n, (p) => {
          this.log('info', cfg.role === 'nse' ? 'nse' : 'sync', p ? 'notification content' : 'already read: not shown', { msgId: n.msgId, queueId: n.queueId });
          if (p) this.emit('notification', { ...p });
        }),
    };
    this.phase.on('phase', (e) => this.emit('phase', { phase: e.phase }));
  }

  get lock() {
    return this.ports.lock;
  }
  get store() {
    return this.ports.store;
  }
  get inbox() {
    return this.ports.inbox;
  }
  get transport() {
    return this.ports.transport;
  }

  emit(name: SessionEventName, fields: Record<string, unknown> = {}): void {
    this.events.emit(name, fields);
  }

  log(level: LogLevel, tag: string, msg: string, fields?: Record<string, unknown>): void {
    this.host.log.log(level, tag, msg, fields);
  }

  get unlocked(): boolean {
    return this.masterKey !== null;
  }

  /**
   * Open the store (if the key is in memory) and connect to the relay. A relay out of reach at
   * launch is not fatal (an app launched offline still starts): the wake sequence and the
   * realtime backoff connect later, as after any lost connection.
   */
  async start(): Promise<void> {
    await this.openStore();
    await this.ensureConnected().catch((e: unknown) =>
      this.log('warn', 'rt', 'relay not reachable at launch: connecting later', { code: isNsekitError(e) ? e.code : String(e) }),
    );
  }

  /**
   * The store is open only while the key is in memory (docs/store.md "When the store is open"):
   * an open SQLite file holds file locks, and a locked device's process must hold none, so that
   * iOS may freeze it between two inbox appends. A close begun at device lock finishes first.
   */
  async openStore(): Promise<void> {
    while (this.storeClosing) await this.storeClosing;
    if (!this.masterKey) return;
    if (!this.store.isOpen) this.store.open();
    if (!this.store.unlocked) await this.store.unlock(this.masterKey);
  }

  /** Connect unless connected; concurrent callers share one attempt. */
  ensureConnected(): Promise<void> {
    if (this.transport.connected) return Promise.resolve();
    if (!this.connecting) {
      this.connecting = this.transport.connect().finally(() => (this.connecting = null));
    }
    return this.connecting;
  }

  /** The keychain handed us the master key (hex). */
  async unlock(masterKeyHex: string): Promise<void> {
    const key = hexBytes(masterKeyHex, 'master key');
    this.masterKey = key;
    // One derivation for us and the store (on the NSE's cold path).
    const ring = deriveKeyRing(key);
    this.bodyKeyBytes = ring.body;
    this.outboxKey = ring.outbox;
    // Suspended: the store stays closed; onActivate opens it with the key we now hold.
    while (this.storeClosing) await this.storeClosing;
    if (!this.store.isOpen && !this.phase.isBlocked('database')) this.store.open();
    if (this.store.isOpen) await this.store.unlock(key, ring);
    wipe(ring.inbox, ring.notification, ring.keycheck);
    this.log('info', 'lock', 'device unlocked: key in memory'); // never any part of the key in a log
  }

  /** Device locked: the key leaves memory, the store closes; inbound goes to the pending inbox. */
  lockDevice(): Promise<void> {
    // Copies captured by an in-flight write are wiped too (it then fails instead of writing after lock).
    for (const k of [this.masterKey, this.bodyKeyBytes, this.outboxKey]) k?.fill(0);
    this.masterKey = null;
    this.bodyKeyBytes = null;
    this.outboxKey = null;
    this.store.lockDevice();
    this.log('info', 'lock', 'device locked: key wiped');
    if (!this.store.isOpen) return Promise.resolve();
    // After the write in flight (close waits for it): checkpoint and close, as at suspension.
    const closing = this.store
      .close()
      .catch((e: unknown) => this.errorEvent('store close at device lock', e))
      .finally(() => {
        if (this.storeClosing === closing) this.storeClosing = null;
      });
    this.storeClosing = closing;
    return closing;
  }

  /**
   * Deps for the inbound pipeline; `store: null` routes to the pending inbox.
   * The store and inbox are wrapped so `stored` / `inboxed` events go out the
   * moment a write is durable — also when a later step (e.g. the ACK) fails.
   * One object per (via, notifier): its getters are live.
   */
  inboundDeps(via: string, notifier: Notifier = this.notifier, opts?: InboundDepsOptions): InboundDeps {
    const shared = notifier === this.notifier && !opts;
    if (shared) {
      const cached = this.deps.get(via);
      if (cached) return cached;
    }
    const d = makeInboundDeps(this, { via, notifier, o: opts ?? {}, bodyKey: () => this.bodyKeyBytes, inboxWrites: this.inboxWrites });
    if (shared) this.deps.set(via, d);
    return d;
  }

  /** A write may be tried again: not once a suspension began (the NSE: only while active). */
  mayRetryWrites(): boolean {
    const ph = this.phase.phase;
    return ph === 'active' || (this.cfg.role === 'app' && ph === 'background');
  }

  /**
   * Run a store write; if it fails with LOCK_TIMEOUT, try it again after a backoff (exponential,
   * jittered from the host Rng) while the phase allows and `more()` holds, within LOCK_RETRY.
   * Every store write is idempotent (INSERT OR IGNORE, upserts), so a retry never doubles one.
   * The last LOCK_TIMEOUT is rethrown with the holder it names.
   */
  retryOnLockTimeout<T>(
    what: string,
    fn: () => Promise<T>,
    more: () => boolean = () => true,
    fields: Record<string, unknown> = {},
    limits: { attempts: number; windowMs: number } = LOCK_RETRY,
  ): Promise<T> {
    return retryOnLockTimeout(this.host, (level, msg, f) => this.log(level, 'store', msg, f), what, fn, () => this.mayRetryWrites() && more(), fields, limits, () => ({ phase: this.phase.phase }));
  }

  /** Run a quarantined message through the pipeline again (./quarantine.ts). */
  retryQuarantined(msgId: string): Promise<InboundOutcome | null> {
    return retryQuarantined(this, msgId);
  }

  /** Run one relay message (delivered by SUB) through the pipeline and ACK it after the durable write. */
  async handleDelivered(m: RelayMessage, via: string): Promise<void> {
    try {
      await deliverInbound(this.inboundDeps(via), m, () => this.gate.run('receiveNetwork', () => this.ackingTransport.ack(m.queueId, m.msgId)));
    } catch (e) {
      // Not ACKed (PROTO_NO_MSG: another process has it; PROTO_CLOSED: the socket's own loss is handled).
      if (!isNsekitError(e, 'PROTO_NO_MSG') && !isNsekitError(e, 'PROTO_CLOSED')) this.onDeliveryFailed?.(m.queueId, e);
      throw withDetails(e, { msgId: m.msgId, queueId: m.queueId });
    }
  }

  /** Import the pending inbox into the store (on unlock and at every wake; ./inbox-import.ts). */
  importInbox(): Promise<number> {
    if (!this.unlocked || !this.store.isOpen) return Promise.resolve(0);
    // Captured once: the app runs imports inside its serialized lifecycle, so no
    // `lock` can wipe the key mid-import (a throwing transform would set records aside).
    return importPendingInbox(this, this.bodyKeyBytes!);
  }

  /** `fields` go with the event (e.g. the NSE's `pushId`, so a host can tell which push failed). */
  errorEvent(where: string, e: unknown, fields: Record<string, unknown> = {}): void {
    const code = isNsekitError(e) ? e.code : 'INTERNAL';
    const message = e instanceof Error ? e.message : String(e);
    // What the error names goes with the event: the outbox item (clientId), the message, the lock's holder.
    const d = (e as { details?: Record<string, unknown> } | null)?.details ?? {};
    const named: Record<string, unknown> = {};
    for (const k of ['clientId', 'queueId', 'msgId', 'cause'] as const) if (d[k] !== undefined) named[k] = d[k];
    if (code === 'LOCK_TIMEOUT' || d.cause === 'LOCK_TIMEOUT') named.holderPid = lockHolderOf(e) ?? null;
    const all = { ...named, ...fields };
    this.log('error', this.cfg.role === 'nse' ? 'nse' : 'rt', `${where} failed`, { code, message, ...all });
    this.emit('error', { ...all, where, code, message });
  }

  /** Report `suspended` with what a freeze would find held. */
  /**
   * `lifecycle`: the app's number (1-based, in the order received) of the command this report
   * answers. A host counts the commands it sent and freezes the app only when the report answers
   * the last one: an older suspension finishing while a newer command is on its way (an `active`
   * in flight) is not the end of the app's background time (docs/processes.md "Freezing the app").
   */
  reportSuspended(lifecycle?: number): void {
    this.emit('suspended', { lockHeld: this.lock.held, storeOpen: this.store.isOpen, ...(lifecycle !== undefined ? { lifecycle } : {}) });
  }

  /** Close the relay connection, the store and the lock (the process is going away). */
  async close(): Promise<void> {
    await this.transport.close().catch(() => {});
    await this.store.close().catch(() => {});
    await this.lock.close().catch(() => {});
  }
}
