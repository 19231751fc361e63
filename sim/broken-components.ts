/**
 * The deliberately broken protocol variants (./broken.ts) as decorators around
 * a session's parts (SessionComponents, src/core/session/runtime.ts): the
 * shipping code has no variant in it; a simulation host wraps the gate, the
 * ports or the queue coordinator it builds. Both modes use these: the real
 * processes through the simulation entries (./real/app-entry.ts,
 * ./real/nse-entry.ts, selected by NSEKIT_BROKEN), the fast mode by passing
 * `brokenComponents(variant)` to the sessions it runs.
 */
import { unlinkSync } from 'node:fs';
import { isNsekitError } from '../src/core/errors.js';
import type { Gate, OpClass, RelayMessage, StoredMessage } from '../src/core/host.js';
import { QueueCoordinator, type QueueState, type Slot } from '../src/core/queue/index.js';
import {
  emptyImportResult,
  type ImportOptions,
  type ImportResult,
  type InboxImportTarget,
  type SessionComponents,
  type SessionInbox,
  type SessionLock,
  type SessionPorts,
  type SessionStore,
  type SessionTransport,
} from '../src/core/session/index.js';
import { PendingInboxFile } from '../src/node/pending-inbox/index.js';
import type { BrokenVariant } from './broken.js';

/**
 * `target` with some members replaced; every other member is the target's own
 * (methods bound to it, getters read on it), so the wrapped object keeps its
 * state and the parts that hold the unwrapped one see the same state.
 */
function override<T extends object>(target: T, over: Partial<T>): T {
  return new Proxy(target, {
    get(t, k) {
      if (Object.prototype.hasOwnProperty.call(over, k)) return (over as Record<PropertyKey, unknown>)[k];
      const v: unknown = Reflect.get(t, k, t);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
    },
  });
}

/**
 * ack-before-write: the transport ACKs every message at the relay inside its
 * GET, before returning it — so before the pipeline's durable write. The
 * pipeline's own ACK of that id later succeeds without a second relay call.
 */
export function ackingGet(t: SessionTransport): SessionTransport {
  const preAcked = new Set<string>();
  const key = (q: string, id: string) => `${q}\u0000${id}`;
  return override(t, {
    get: async (queueId: string): Promise<RelayMessage | null> => {
      const m = await t.get(queueId);
      if (m) {
        await t.ack(queueId, m.msgId);
        preAcked.add(key(queueId, m.msgId));
      }
      return m;
    },
    ack: async (queueId: string, msgId: string): Promise<void> => {
      if (preAcked.delete(key(queueId, msgId))) return;
      await t.ack(queueId, msgId);
    },
  });
}

/**
 * no-lock-release-on-suspend: a release while the store is closed (the
 * suspension's) re-acquires the lock right after, and so does the store's
 * close (which takes and lets go of the lock for its checkpoint through the
 * unwrapped lock): the process goes into the freeze holding it. Once the lock
 * itself is closed (the process is going away) nothing is re-acquired.
 */
export function lockKeptWhileClosed(p: SessionPorts): SessionPorts {
  const lock = p.lock;
  const store = p.store;
  let closing = false;
  const keep = async () => {
    if (closing || lock.held) return;
    await lock.acquire({ timeoutMs: 1_000 }).catch(() => {});
  };
  const keptLock = override<SessionLock>(lock, {
    release: async (o?: { wrote?: boolean }) => {
      await lock.release(o);
      if (!store.isOpen) await keep();
    },
    close: async () => {
      closing = true;
      await lock.close();
    },
  });
  const keptStore = override<SessionStore>(store, {
    close: async () => {
      await store.close();
      await keep();
    },
  });
  return { ...p, lock: keptLock, store: keptStore };
}

/** unserialized-get: every GET gets a private slot nobody else waits for, so GETs on one queue overlap. */
export class UnserializedQueueCoordinator extends QueueCoordinator {
  private privateSlots = 0;
  protected override acquire(_queueId: string, _q: QueueState, _timeoutMs: number): Promise<Slot> {
    return Promise.resolve({ id: ++this.privateSlots, state: 'held', holdTimer: null, end: null, opDone: null });
  }
}

/**
 * ungated-db-when-suspended: a `database` operation never waits for its class —
 * while the class is blocked it runs at once, outside the gate; while it is
 * open it goes through the gate as usual (counted in flight). Other classes
 * go to the real gate.
 */
export function ungatedDatabase(g: Gate): Gate {
  const blocked = (cls: OpClass): boolean => {
    const isBlocked = (g as { isBlocked?: (c: OpClass) => boolean }).isBlocked;
    return typeof isBlocked === 'function' ? isBlocked.call(g, cls) : true;
  };
  return {
    run: (cls, fn, opts) => {
      if (cls !== 'database' || !blocked(cls)) return g.run(cls, fn, opts);
      return (async () => fn())();
    },
  };
}

/**
 * inbox-no-fsync-claim, for the Node pending-inbox file: the import reads the
 * live file, stores what it read, then deletes the live file — no claim by
 * rename, no barrier for appenders: a record appended between the read and
 * the delete is lost. Another inbox (e.g. an in-memory one) is left as it is.
 */
export function unclaimedImport(inbox: SessionInbox): SessionInbox {
  if (!(inbox instanceof PendingInboxFile)) return inbox;
  const file = inbox;
  return override<SessionInbox>(inbox, {
    importInto: async (store: InboxImportTarget, opts: ImportOptions = {}): Promise<ImportResult> => {
      const r = emptyImportResult();
      const read = file.read();
      if (read.records.length === 0 && read.markers.length === 0) return r;
      const out: StoredMessage[] = [];
      for (const rec of read.records) {
        try {
          out.push(opts.transform ? await opts.transform(rec) : rec);
        } catch (e) {
          if (!(isNsekitError(e) && e.code.startsWith('CRYPTO_'))) throw e;
          r.rejected++;
        }
      }
      const notified = [...new Set(read.markers.map((k) => k.msgId))];
      const n = await store.putMessages(out, notified);
      try {
        unlinkSync(file.path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      r.files = 1;
      r.records = read.records.length;
      r.markers = read.markers.length;
      r.inserted = n;
      r.duplicates = out.length - n;
      return r;
    },
  });
}

/** The components that make a session run `variant`; undefined for the correct protocol. */
export function brokenComponents(variant: BrokenVariant | undefined): SessionComponents | undefined {
  switch (variant) {
    case undefined:
      return undefined;
    case 'ack-before-write':
      return { ports: (p) => ({ ...p, transport: ackingGet(p.transport) }) };
    case 'no-lock-release-on-suspend':
      return { ports: lockKeptWhileClosed };
    case 'unserialized-get':
      return { queues: (host, transport, opts) => new UnserializedQueueCoordinator(host, transport, opts) };
    case 'ungated-db-when-suspended':
      return { gate: ungatedDatabase };
    case 'inbox-no-fsync-claim':
      return { ports: (p) => ({ ...p, inbox: unclaimedImport(p.inbox) }) };
    case 'store-sync-normal':
      return undefined; // a configuration, not a part: see storeSyncFor
  }
}

/** The store durability a run's sessions are configured with (the default unless the variant says otherwise). */
export function storeSyncFor(variant: BrokenVariant | undefined): { storeSync?: 'normal' } {
  return variant === 'store-sync-normal' ? { storeSync: 'normal' } : {};
}
