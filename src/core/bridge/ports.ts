/**
 * The session ports (src/core/session/ports.ts) over the Swift host's
 * functions: what src/node/session-ports.ts is for the Node processes and
 * sim/fast for the simulator. Nothing here decides behaviour — when to GET,
 * store, ACK, import, yield or suspend is the sessions' — it only maps each
 * port call onto the host contract (ios-bridge/host-contract.md) and keeps the
 * JS-side bookkeeping the contract leaves to the core: the in-process lock
 * queue (one flock per process), which write is in flight when the store
 * closes, and the wire shapes.
 */
import { NsekitError } from '../errors.js';
import type { Gate, Host, LockGrant, MessageFlags, RelayMessage, SendOptions, StoredMessage } from '../host.js';
import type {
  Cursor,
  ImportOptions,
  ImportResult,
  InboxImportTarget,
  OutboxItem,
  OutboxState,
  QueueCreds,
  SessionInbox,
  SessionLock,
  SessionPorts,
  SessionStore,
  SessionTransport,
} from '../session/ports.js';
import { bad, call, decodeRelayMessage, expectBool, toWireStored } from './adapters.js';
import type { BridgeHost, Done, WireRelayMessage } from './contract.js';
import { Mutex } from './mutex.js';

export const notInContract = (what: string, role: string) =>
  new NsekitError('BRIDGE_BAD_INPUT', `${what} is not part of the ${role} host contract`);

/** A sync host function that must not break the session: a throw or a non-boolean is logged and read as `fallback`. */
function syncBool(host: Host, h: BridgeHost, fn: 'lockYieldPending', fallback: boolean): boolean {
  try {
    const v = (h[fn] as () => unknown)();
    if (typeof v === 'boolean') return v;
    host.log.log('error', 'lock', `${fn} must answer a boolean`, { got: typeof v });
  } catch (e) {
    host.log.log('error', 'lock', `${fn} threw`, { error: String(e) });
  }
  return fallback;
}

function syncVoid(host: Host, h: BridgeHost, fn: 'lockRequestYield' | 'lockWithdrawYield'): void {
  try {
    (h[fn] as () => void)();
  } catch (e) {
    host.log.log('error', 'lock', `${fn} threw`, { error: String(e) });
  }
}

/**
 * The cross-process lock: lockAcquire/lockRelease behind an in-process FIFO (the host's flock is
 * one per process, so a second acquire in this context must wait for the first release). The yield
 * channel is the app group's yield record: the app writes/withdraws it, the NSE reads it.
 */
export class BridgeLock implements SessionLock {
  private readonly queue = new Mutex();
  private letGo: (() => void) | null = null;
  private requested = false;
  private readonly yieldFns = new Set<() => void>();

  constructor(
    private readonly h: BridgeHost,
    private readonly host: Host,
    private readonly role: 'nse' | 'app',
    private readonly timeoutMs: number,
  ) {}

  get held(): boolean {
    return this.letGo !== null;
  }

  async acquire(opts: { timeoutMs?: number } = {}): Promise<LockGrant> {
    const next = await this.queue.lock();
    let g: { generation?: unknown; dirty?: unknown } | null;
    try {
      g = await call(this.h, 'lockAcquire', (d) => this.h.lockAcquire(opts.timeoutMs ?? this.timeoutMs, d));
    } catch (e) {
      next();
      throw e;
    }
    this.letGo = next;
    // As the Node lock: the requester's own request ends once it holds the lock.
    if (this.requested) this.withdrawYield();
    return { generation: Number(g?.generation) || 0, dirty: g?.dirty === true };
  }

  async release(opts: { wrote?: boolean } = {}): Promise<void> {
    const next = this.letGo;
    if (!next) throw new NsekitError('LOCK_NOT_HELD', 'release without holding the lock');
    try {
      await call<null>(this.h, 'lockRelease', (d) => this.h.lockRelease(opts.wrote === true, d));
    } finally {
      this.letGo = null;
      next();
    }
  }

  requestYield(): void {
    if (this.role !== 'app') return;
    this.requested = true;
    syncVoid(this.host, this.h, 'lockRequestYield');
  }

  withdrawYield(): void {
    if (this.role !== 'app' || !this.requested) return;
    this.requested = false;
    syncVoid(this.host, this.h, 'lockWithdrawYield');
  }

  yieldPending(): boolean {
    return this.role === 'nse' ? syncBool(this.host, this.h, 'lockYieldPending', false) : false;
  }

  /** The host's "app active" notification reaches the NSE as the facade's yieldRequested(); kept for the port's shape. */
  onYieldRequested(fn: () => void): () => void {
    this.yieldFns.add(fn);
    return () => this.yieldFns.delete(fn);
  }

  async close(): Promise<void> {
    if (this.held) await this.release({ wrote: false });
  }
}

/**
 * The shared store: every write takes the cross-process lock inside the gate's database class, so
 * a suspension drains it and none starts while suspended. `open`/`unlocked` are the session's view;
 * the host opens its database lazily and keeps its own key (the core never sees it).
 */
export class BridgeStore implements SessionStore {
  /** Writes and closes in order: a close waits for the write in flight. */
  private readonly writes = new Mutex();
  private open_ = false;
  private keyed = false;
  private lockClose: Promise<void> | null = null;

  constructor(
    protected readonly h: BridgeHost,
    private readonly lock: BridgeLock,
    private readonly gate: Gate,
  ) {}

  get isOpen(): boolean {
    return this.open_;
  }
  get unlocked(): boolean {
    return this.open_ && this.keyed;
  }
  open(): void {
    this.open_ = true;
  }
  /** After the write in flight: storeClose (checkpoint, close; the lock is never held across it). */
  async close(): Promise<void> {
    try {
      await this.writes.run(() => call<null>(this.h, 'storeClose', (d) => this.h.storeClose(d)));
    } finally {
      this.open_ = false;
    }
  }
  /** The master key reached the session. The host's database key is the host's: nothing to verify here. */
  async unlock(): Promise<void> {
    this.keyed = true;
  }
  /** Device locked: the session's key is gone; the host forgets its store key, so close the file after the write in flight. */
  lockDevice(): void {
    this.keyed = false;
    const p = this.writes.run(async () => void (await call<null>(this.h, 'storeClose', (d) => this.h.storeClose(d))));
    this.lockClose = p;
    p.catch(() => {});
  }
  /** The storeClose the last lockDevice started (the facade reports its failure). */
  takeLockClose(): Promise<void> {
    const p = this.lockClose ?? Promise.resolve();
    this.lockClose = null;
    return p;
  }

  /** gate('database') → lockAcquire → `fn` → lockRelease(wrote). */
  protected write<T>(fn: string, invoke: (d: Done<T>) => void, check: (r: T) => T, wrote: (r: T) => boolean): Promise<T> {
    return this.gate.run('database', () =>
      this.writes.run(async () => {
        if (!this.open_) throw new NsekitError('STORE_CLOSED', `${fn}: store is closed`);
        await this.lock.acquire();
        let w = false;
        try {
          const r = check(await call<T>(this.h, fn, invoke));
          w = wrote(r);
          return r;
        } finally {
          await this.lock.release({ wrote: w });
        }
      }),
    );
  }
  /** A read: no lock (the host reads a WAL snapshot), but a database operation for the gate. */
  protected read<T>(fn: string, invoke: (d: Done<T>) => void): Promise<T> {
    return this.gate.run('database', async () => {
      if (!this.open_) throw new NsekitError('STORE_CLOSED', `${fn}: store is closed`);
      return call<T>(this.h, fn, invoke);
    });
  }

  putMessage(m: StoredMessage): Promise<boolean> {
    const w = toWireStored(m);
    return this.write('storePut', (d) => this.h.storePut(w, d), (r) => expectBool('storePut', r), (r) => r);
  }
  markNotified(msgId: string): Promise<boolean> {
    return this.write('storeMarkNotified', (d) => this.h.storeMarkNotified(msgId, d), (r) => expectBool('storeMarkNotified', r), (r) => r);
  }
  // ---- read state (docs/notifications.md "Unread"): both roles show notifications with a badge ----
  /** An answer that is not a count ≥ 0 sets no badge (notify.ts badgeValue): checked there, not here. */
  unreadCount(): Promise<number> {
    return this.read<number>('storeUnreadCount', (d) => this.h.storeUnreadCount(d));
  }
  async isRead(msgId: string): Promise<boolean> {
    return expectBool('storeIsRead', await this.read<boolean>('storeIsRead', (d) => this.h.storeIsRead(msgId, d)));
  }
  /** A write like storePut (inside the lock); `wrote` only when a row changed. */
  markThreadRead(queueId: string, upToTs?: number): Promise<string[]> {
    return this.write<string[]>(
      'storeMarkThreadRead',
      (d) => this.h.storeMarkThreadRead(queueId, upToTs ?? null, d),
      (r) => {
        if (!Array.isArray(r) || r.some((id) => typeof id !== 'string')) throw bad('storeMarkThreadRead: no msgIds');
        return r;
      },
      (r) => r.length > 0,
    );
  }
  /** Anything but a number is "none" (the read then reaches no other device: app/read-send.ts). */
  async threadLastTs(queueId: string): Promise<number | null> {
    const ts = await this.read<unknown>('storeThreadLastTs', (d) => this.h.storeThreadLastTs(queueId, d));
    return typeof ts === 'number' ? ts : null;
  }

  /** The NSE's store has no batch insert, cursors or outbox (app-ports.ts adds them). */
  putMessages(_ms: StoredMessage[], _notified?: readonly string[]): Promise<number> {
    return Promise.reject(notInContract('putMessages', 'NSE'));
  }
  hasMessage(): Promise<boolean> {
    return Promise.reject(notInContract('hasMessage', 'bridge'));
  }
  countMessages(): Promise<number> {
    return Promise.reject(notInContract('countMessages', 'bridge'));
  }
  getCursor(_queueId: string): Promise<Cursor> {
    return Promise.reject(notInContract('getCursor', 'NSE'));
  }
  setCursor(_queueId: string, _c: Cursor): Promise<void> {
    return Promise.reject(notInContract('setCursor', 'NSE'));
  }
  outboxAdd(_item: { clientId: string; queueId: string; body: Uint8Array }): Promise<boolean> {
    return Promise.reject(notInContract('outboxAdd', 'NSE'));
  }
  outboxPending(): Promise<OutboxItem[]> {
    return Promise.reject(notInContract('outboxPending', 'NSE'));
  }
  outboxMark(_clientId: string, _state: Exclude<OutboxState, 'pending'>): Promise<void> {
    return Promise.reject(notInContract('outboxMark', 'NSE'));
  }
}

/**
 * The pending inbox. append/markNotified/isNotified are called by the session inside its
 * database gate (so not gated again here).
 */
export class BridgeInbox implements SessionInbox {
  constructor(
    protected readonly h: BridgeHost,
    protected readonly gate: Gate,
  ) {}

  async append(m: StoredMessage): Promise<void> {
    const w = toWireStored(m);
    await call<null>(this.h, 'inboxAppend', (d) => this.h.inboxAppend(w, d));
  }
  async markNotified(msgId: string, queueId: string): Promise<boolean> {
    return expectBool('inboxMarkNotified', await call(this.h, 'inboxMarkNotified', (d) => this.h.inboxMarkNotified(msgId, queueId, d)));
  }
  /** No session asks it (the store path appends a marker instead: inboxMarkNotified), so the contract has no host function for it. */
  isNotified(_msgId: string): Promise<boolean> {
    return Promise.reject(notInContract('isNotified', 'bridge'));
  }

  /** The NSE never imports (app-ports.ts adds it). */
  importInto(_store: InboxImportTarget, _opts?: ImportOptions): Promise<ImportResult> {
    return Promise.reject(notInContract('importInto', 'NSE'));
  }
}

/**
 * The relay connection, NSE: GET and ACK; the host keeps its socket, so the session finds it
 * connected. app-ports.ts adds connect/SUB/UNSUB/SEND/PING for the app.
 */
export class BridgeTransport implements SessionTransport {
  constructor(protected readonly h: BridgeHost) {}

  get connected(): boolean {
    return true;
  }
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  async ping(): Promise<void> {}
  async get(queueId: string): Promise<RelayMessage | null> {
    return decodeRelayMessage('transportGet', await call<WireRelayMessage | null>(this.h, 'transportGet', (d) => this.h.transportGet(queueId, d)), queueId);
  }
  async ack(queueId: string, msgId: string): Promise<void> {
    await call<null>(this.h, 'transportAck', (d) => this.h.transportAck(queueId, msgId, d));
  }
  subscribe(_queueId: string, _onMessage: (m: RelayMessage) => void): Promise<void> {
    return Promise.reject(notInContract('subscribe', 'NSE'));
  }
  unsubscribe(_queueId: string): Promise<void> {
    return Promise.reject(notInContract('unsubscribe', 'NSE'));
  }
  send(_queueId: string, _body: Uint8Array, _flags: MessageFlags, _opts?: SendOptions): Promise<void> {
    return Promise.reject(notInContract('send', 'NSE'));
  }
  sendWithResult(_queueId: string, _body: Uint8Array, _flags: MessageFlags, _opts?: SendOptions): Promise<{ msgId?: string; duplicate: boolean }> {
    return Promise.reject(notInContract('send', 'NSE'));
  }
  /** The host holds the queues' credentials. */
  setQueueCreds(_queueId: string, _creds: QueueCreds): void {}
  onClose(_fn: () => void): () => void {
    return () => {};
  }
  onEnd(_fn: (queueId: string) => void): () => void {
    return () => {};
  }
}

export interface BridgePorts extends SessionPorts {
  lock: BridgeLock;
  store: BridgeStore;
  inbox: BridgeInbox;
  transport: BridgeTransport;
}

/** The NSE's ports. */
export function nsePorts(h: BridgeHost, host: Host, gate: Gate, lockTimeoutMs: number): BridgePorts {
  const lock = new BridgeLock(h, host, 'nse', lockTimeoutMs);
  return { lock, store: new BridgeStore(h, lock, gate), inbox: new BridgeInbox(h, gate), transport: new BridgeTransport(h) };
}
