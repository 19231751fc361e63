/**
 * A bridge host (ios-bridge/host-contract.md, the NSE's functions) whose services are the fast
 * world's: the shared lock table, the store file, the pending-inbox files, the relay — as a
 * Swift host's would be the flock, SQLite, the app-group file and the WebSocket. Every call goes
 * through the RecordLoop, which answers the clock, timers and logs itself and records each call
 * with the reply the world gave.
 *
 * The host emits the failpoints its Node counterparts emit around the same operations (lock,
 * transaction, inbox append, GET/ACK, suspended), so a scenario's triggers on them hold this
 * process there and its history reads like the shipping NSE's. Failpoints inside the session
 * code are not reachable: the bundle runs without failpoints (src/core/bridge/adapters.ts).
 */
import { fromBase64, toBase64, toHex } from '../../src/core/bytes.js';
import { NsekitError } from '../../src/core/errors.js';
import type { StoredMessage } from '../../src/core/host.js';
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
const ASYNC_FNS = ['lockAcquire', 'lockRelease', 'storePut', 'storeMarkNotified', 'storeClose', 'inboxAppend', 'inboxMarkNotified', 'inboxIsNotified', 'inboxClaim', 'inboxClaimDone', 'transportGet', 'transportAck',
  'storeGetCursor', 'storeSetCursor', 'outboxAdd', 'outboxPending', 'outboxMark', 'transportConnect', 'transportSubscribe', 'transportUnsubscribe', 'transportSend', 'transportPing', 'statusGet'] as const;

export interface SimHostHooks {
  /** contentReady reached the host (the world records what was shown). */
  contentReady(requestId: string, result: { status?: string; messages?: { msgId: string; queueId: string }[] }): void;
  /** phaseChanged reached the host. */
  phaseChanged(phase: string): void;
}

/** The NSE's host object over `p`'s ports in world `w`, recorded by `loop`. */
export function simNseHost(w: FastWorld, p: SimProc, loop: RecordLoop, hooks: SimHostHooks): Record<string, Fn> {
  const { ctx } = p;
  const inbox = new SimInbox(w.inboxFiles, ctx);
  let ref = 0;

  /** A write transaction (the core holds the lock: lockAcquire came first). Opens the file lazily; refuses while the key is unreadable. */
  async function tx<T>(op: string, msgId: string, fn: () => { result: T; commit: () => void }): Promise<T> {
    if (w.locked) throw new NsekitError('STORE_LOCKED', 'protected data unavailable: the store key cannot be read');
    p.store.open();
    const r = `${ctx.pid}.h${++ref}`;
    ctx.record('invoke', 'store.put', { op, msgId }, { ref: r });
    await ctx.hit('db.tx.begin', { op });
    const { result, commit } = fn();
    await ctx.hit('db.tx.commit', { op });
    commit();
    w.db.sync(); // synchronous = FULL
    ctx.record('ok', 'store.put', { op }, { ref: r });
    return result;
  }

  /** The NSE's host keeps its own socket and connects on demand (host-contract.md `transportGet`). */
  async function connected(): Promise<void> {
    if (!p.transport.connected) await p.transport.connect();
  }

  const work: Record<(typeof ASYNC_FNS)[number], (...a: never[]) => Promise<unknown>> = {
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
        await connected();
        const m = await p.transport.get(queueId);
        await ctx.hit('net.get.ok', { queueId, msgId: m?.msgId ?? null });
        return m ? { msgId: m.msgId, queueId: m.queueId, ts: m.ts, notification: m.flags.notification, body: toBase64(m.body) } : null;
      } catch (e) {
        await ctx.hit('net.get.fail', { queueId, code: (e as NsekitError).code ?? 'error' });
        throw e;
      }
    },
    transportAck: async (queueId: string, msgId: string) => {
      await ctx.hit('net.ack.sent', { queueId, msgId });
      try {
        await connected();
        await p.transport.ack(queueId, msgId);
      } catch (e) {
        await ctx.hit('net.ack.fail', { queueId, msgId, code: (e as NsekitError).code ?? 'error' });
        throw e;
      }
      await ctx.hit('net.ack.ok', { queueId, msgId });
      return null;
    },
    // Not the NSE's (host-contract.md): answered as a host without them would be.
    inboxIsNotified: notNse('inboxIsNotified'),
    inboxClaim: notNse('inboxClaim'),
    inboxClaimDone: notNse('inboxClaimDone'),
    storeGetCursor: notNse('storeGetCursor'),
    storeSetCursor: notNse('storeSetCursor'),
    outboxAdd: notNse('outboxAdd'),
    outboxPending: notNse('outboxPending'),
    outboxMark: notNse('outboxMark'),
    transportConnect: notNse('transportConnect'),
    transportSubscribe: notNse('transportSubscribe'),
    transportUnsubscribe: notNse('transportUnsubscribe'),
    transportSend: notNse('transportSend'),
    transportPing: notNse('transportPing'),
    statusGet: notNse('statusGet'),
  };

  const host: Record<string, Fn> = {
    now: () => loop.nowMs(),
    setTimer: (ms: number, fire: () => void) => loop.setTimer(ms, fire),
    clearTimer: (id: number) => loop.clearTimer(id),
    randomHex: (n: number) => loop.sync('randomHex', [n], toHex(w.rng.randomBytes(n))),
    lockYieldPending: () => loop.sync('lockYieldPending', [], w.lockTable.yieldPending(ctx.pid, w.sched.now)),
    log: (level: string, tag: string, msg: string, fields: string) => loop.note('log', [level, tag, msg, fields]),
    contentReady: (requestId: string, result: Parameters<SimHostHooks['contentReady']>[1]) => {
      loop.note('contentReady', [requestId, result]);
      hooks.contentReady(requestId, result);
    },
    phaseChanged: (phase: string) => {
      loop.note('phaseChanged', [phase]);
      hooks.phaseChanged(phase);
    },
    sessionEvent: (name: string, fields: unknown) => loop.note('sessionEvent', [name, fields]),
    lockRequestYield: () => loop.note('lockRequestYield', []),
    lockWithdrawYield: () => loop.note('lockWithdrawYield', []),
  };
  for (const fn of ASYNC_FNS) {
    host[fn] = (...a: unknown[]) => {
      const done = a[a.length - 1] as Done;
      const args = a.slice(0, -1);
      loop.async(fn, args, done, () => (work[fn] as (...x: unknown[]) => Promise<unknown>)(...args));
    };
  }
  return host;
}

function notNse(fn: string): () => Promise<never> {
  return () => Promise.reject(new NsekitError('BRIDGE_HOST_ERROR', `${fn} is not an NSE host function`));
}
