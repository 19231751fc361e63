/**
 * A bridge host (ios-bridge/host-contract.md) whose services are the fast world's: the shared lock
 * table, the store file, the pending-inbox files, the relay — as a Swift host's would be the flock,
 * SQLite, the app-group file and the WebSocket. Every call goes through the RecordLoop, which
 * answers the clock, timers and logs itself and records each call with the reply the world gave.
 * This file has what both roles' hosts do and the NSE's host; the app's own functions are in
 * ./sim-app-host.ts.
 *
 * The host emits the failpoints its Node counterparts emit around the same operations (lock,
 * transaction, inbox append, GET/ACK, suspended), so a scenario's triggers on them hold this
 * process there and its history reads like the shipping process's. Failpoints inside the session
 * code are not reachable: the bundle runs without failpoints (src/core/bridge/adapters.ts).
 */
import { fromBase64, toBase64, toHex } from '../../src/core/bytes.js';
import { NsekitError } from '../../src/core/errors.js';
import type { RelayMessage, StoredMessage } from '../../src/core/host.js';
import { SimInbox } from '../fast/inbox.js';
import type { SimProc } from '../fast/proc.js';
import type { FastWorld } from '../fast/world.js';
import type { RecordLoop } from './record-loop.js';

interface Wire {
  msgId: string;
  queueId: string;
  ts: number;
  notification: boolean;
  sealed: string;
}
type Done = (err: unknown, result?: unknown) => void;
type Fn = (...a: never[]) => unknown;

/** Every async name runner.js's host has (a host object of the same shape: the core may look). */
const ASYNC_FNS = ['lockAcquire', 'lockRelease', 'storePut', 'storeMarkNotified', 'storeClose', 'storeUnreadCount', 'storeIsRead', 'storeMarkThreadRead', 'storeThreadLastTs', 'inboxAppend', 'inboxMarkNotified', 'inboxIsNotified', 'inboxClaim', 'inboxClaimDone', 'transportGet', 'transportAck',
  'storeGetCursor', 'storeSetCursor', 'outboxAdd', 'outboxPending', 'outboxMark', 'transportConnect', 'transportSubscribe', 'transportUnsubscribe', 'transportSend', 'transportPing', 'statusGet',
  'transportNsub', 'transportNdel'] as const;
export type AsyncFn = (typeof ASYNC_FNS)[number];
/** What the world does for an async host function (its outcome is the reply). */
export type Work = Partial<Record<AsyncFn, (...a: never[]) => Promise<unknown>>>;

export interface SimHostHooks {
  /** contentReady reached the host (the world records what was shown). */
  contentReady?(requestId: string, result: { status?: string; messages?: { msgId: string; queueId: string }[] }): void;
  /** phaseChanged reached the host. */
  phaseChanged(phase: string): void;
  /** sessionEvent reached the host (the app's: the device reads them). */
  sessionEvent?(name: string, fields: Record<string, unknown>): void;
  /** lockRequestYield (true) / lockWithdrawYield (false) reached the host: the app's yield record. */
  yieldRecord?(request: boolean): void;
  /** pushTokenSave reached the host: the app's persisted registration state. */
  pushTokenSave?(state: unknown): void;
}

/** The world's store and pending inbox as both roles' hosts use them. */
export interface SimServices {
  /** A write transaction (the core holds the lock: lockAcquire came first). Opens the file lazily; refuses while the key is unreadable. */
  tx<T>(op: string, msgId: string | undefined, fn: () => { result: T; commit: () => void }): Promise<T>;
  /** A read of the store (no lock: a WAL snapshot); refuses while the key is unreadable. */
  read<T>(fn: () => T): Promise<T>;
  inbox: SimInbox;
}

export function simServices(w: FastWorld, p: SimProc): SimServices {
  const { ctx } = p;
  let ref = 0;
  const refuseLocked = (): void => {
    if (w.locked) throw new NsekitError('STORE_LOCKED', 'protected data unavailable: the store key cannot be read');
    p.store.open();
  };
  return {
    async tx(op, msgId, fn) {
      refuseLocked();
      const r = `${ctx.pid}.h${++ref}`;
      ctx.record('invoke', 'store.put', { op, ...(msgId !== undefined ? { msgId } : {}) }, { ref: r });
      await ctx.hit('db.tx.begin', { op });
      const { result, commit } = fn();
      await ctx.hit('db.tx.commit', { op });
      commit();
      w.db.sync(); // synchronous = FULL
      ctx.record('ok', 'store.put', { op }, { ref: r });
      return result;
    },
    async read(fn) {
      refuseLocked();
      return fn();
    },
    inbox: new SimInbox(w.inboxFiles, ctx),
  };
}

/**
 * What both roles' hosts do with the world's services: the lock, the store's message writes, the
 * pending inbox's append and marker, GET and ACK. `connect`: how GET/ACK get a connection (the
 * NSE's host connects on demand; the app's uses the one of transportConnect).
 */
export function sharedWork(w: FastWorld, p: SimProc, svc: SimServices, connect: () => Promise<void>): Work {
  const { ctx } = p;
  const { tx, inbox } = svc;
  return {
    lockAcquire: async (timeoutMs: number) => p.lock.acquire({ timeoutMs }),
    lockRelease: async (wrote: boolean) => {
      await p.lock.release({ wrote });
      return null;
    },
    storePut: async (m: Wire) =>
      tx('putMessage', m.msgId, () => {
        const has = w.db.messages.has(m.msgId);
        return {
          result: !has,
          commit: () => {
            if (has) return;
            const sm: StoredMessage = { msgId: m.msgId, queueId: m.queueId, ts: m.ts, flags: { notification: m.notification }, sealed: fromBase64(m.sealed)! };
            w.db.messages.set(m.msgId, sm);
            w.db.rows.push(m.msgId);
          },
        };
      }),
    storeMarkNotified: async (msgId: string) =>
      tx('markNotified', msgId, () => {
        const fresh = !w.db.notified.has(msgId);
        return { result: fresh, commit: () => void w.db.notified.add(msgId) };
      }),
    // The read state over the world's SimDb, as the fast store (sim/fast/store.ts) reads and marks it.
    storeUnreadCount: async () => svc.read(() => w.db.unread()),
    storeIsRead: async (msgId: string) => svc.read(() => w.db.read.has(msgId)),
    storeMarkThreadRead: async (queueId: string, upTo: number | null) =>
      tx('markThreadRead', undefined, () => {
        const ids = [...w.db.messages.values()].filter((m) => m.queueId === queueId && !w.db.read.has(m.msgId) && (upTo === null || m.ts <= upTo)).map((m) => m.msgId);
        return { result: ids, commit: () => ids.forEach((id) => w.db.read.add(id)) };
      }),
    storeThreadLastTs: async (queueId: string) =>
      svc.read(() => {
        let last: number | null = null;
        for (const m of w.db.messages.values()) if (m.queueId === queueId && (last === null || m.ts > last)) last = m.ts;
        return last;
      }),
    storeClose: async () => {
      await p.store.close(); // checkpoint under the lock, close (the world's 0xdead10cc check reads the file state)
      return null;
    },
    inboxAppend: async (m: Wire) => {
      await inbox.append({ msgId: m.msgId, queueId: m.queueId, ts: m.ts, flags: { notification: m.notification }, sealed: fromBase64(m.sealed)! });
      await ctx.hit('inbox.append.done', { msgId: m.msgId });
      return null;
    },
    inboxMarkNotified: async (msgId: string) => inbox.markNotified(msgId),
    transportGet: async (queueId: string) => {
      await ctx.hit('net.get.sent', { queueId });
      try {
        await connect();
        const m = await p.transport.get(queueId);
        await ctx.hit('net.get.ok', { queueId, msgId: m?.msgId ?? null });
        return m ? wireMessage(m) : null;
      } catch (e) {
        await ctx.hit('net.get.fail', { queueId, code: (e as NsekitError).code ?? 'error' });
        throw e;
      }
    },
    transportAck: async (queueId: string, msgId: string) => {
      await ctx.hit('net.ack.sent', { queueId, msgId });
      try {
        await connect();
        await p.transport.ack(queueId, msgId);
      } catch (e) {
        await ctx.hit('net.ack.fail', { queueId, msgId, code: (e as NsekitError).code ?? 'error' });
        throw e;
      }
      await ctx.hit('net.ack.ok', { queueId, msgId });
      return null;
    },
  };
}

/** A relay message as the contract passes it (transportGet's answer, a SUB delivery). */
export function wireMessage(m: RelayMessage): { msgId: string; queueId: string; ts: number; notification: boolean; body: string } {
  return { msgId: m.msgId, queueId: m.queueId, ts: m.ts, notification: m.flags.notification, body: toBase64(m.body) };
}

/** The NSE's host object over `p`'s ports in world `w`, recorded by `loop`: its host keeps its own socket and connects on demand. */
export function simNseHost(w: FastWorld, p: SimProc, loop: RecordLoop, hooks: SimHostHooks): Record<string, Fn> {
  const connect = async (): Promise<void> => {
    if (!p.transport.connected) await p.transport.connect();
  };
  return simHost(w, p, loop, hooks, sharedWork(w, p, simServices(w, p), connect), 'an NSE');
}

/**
 * A host object: the sync functions answered by the loop and the world, and every async name of
 * runner.js's host through the loop — `work`'s, and the others answered as a host without them
 * (`role`'s) would be.
 */
export function simHost(w: FastWorld, p: SimProc, loop: RecordLoop, hooks: SimHostHooks, work: Work, role: string): Record<string, Fn> {
  const host: Record<string, Fn> = {
    now: () => loop.nowMs(),
    setTimer: (ms: number, fire: () => void) => loop.setTimer(ms, fire),
    clearTimer: (id: number) => loop.clearTimer(id),
    randomHex: (n: number) => loop.sync('randomHex', [n], toHex(w.rng.randomBytes(n))),
    lockYieldPending: () => loop.sync('lockYieldPending', [], w.lockTable.yieldPending(p.ctx.pid, w.sched.now)),
    log: (level: string, tag: string, msg: string, fields: string) => loop.note('log', [level, tag, msg, fields]),
    contentReady: (requestId: string, result: Parameters<NonNullable<SimHostHooks['contentReady']>>[1]) => {
      loop.note('contentReady', [requestId, result]);
      hooks.contentReady?.(requestId, result);
    },
    phaseChanged: (phase: string) => {
      loop.note('phaseChanged', [phase]);
      hooks.phaseChanged(phase);
    },
    sessionEvent: (name: string, fields: Record<string, unknown>) => {
      loop.note('sessionEvent', [name, fields]);
      hooks.sessionEvent?.(name, fields);
    },
    lockRequestYield: () => {
      loop.note('lockRequestYield', []);
      hooks.yieldRecord?.(true);
    },
    lockWithdrawYield: () => {
      loop.note('lockWithdrawYield', []);
      hooks.yieldRecord?.(false);
    },
    pushTokenSave: (state: unknown) => {
      loop.note('pushTokenSave', [state]);
      hooks.pushTokenSave?.(state);
    },
  };
  for (const fn of ASYNC_FNS) {
    const f = (work[fn] ?? notFor(fn, role)) as (...x: unknown[]) => Promise<unknown>;
    host[fn] = (...a: unknown[]) => {
      const done = a[a.length - 1] as Done;
      const args = a.slice(0, -1);
      loop.async(fn, args, done, () => f(...args));
    };
  }
  return host;
}

function notFor(fn: string, role: string): () => Promise<never> {
  return () => Promise.reject(new NsekitError('BRIDGE_HOST_ERROR', `${fn} is not ${role} host function`));
}
