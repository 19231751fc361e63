import type { Notifier } from '../host.js';
import type { InboundDeps } from '../inbound/index.js';
import type { InboxWrites } from './inbox-writes.js';
import { LOCK_RETRY } from './lock-retry.js';
import { reportQuarantined } from './quarantine.js';
import type { InboundDepsOptions, SessionRuntime } from './runtime.js';

/**
 * The inbound pipeline's deps for one (via, notifier) (SessionRuntime.inboundDeps): the store and
 * the pending inbox wrapped so `stored` / `inboxed` events go out the moment a write is durable, store
 * writes retried on LOCK_TIMEOUT, inbox operations run in the database class and tracked so a
 * suspension waits for them, and read markers handed to read sync. `bodyKey` is read at each use.
 */
export function makeInboundDeps(
  rt: SessionRuntime,
  { via, notifier, o, bodyKey, inboxWrites }: { via: string; notifier: Notifier; o: InboundDepsOptions; bodyKey: () => Uint8Array | null; inboxWrites: InboxWrites },
): InboundDeps {
  const store = rt.store;
  const more = o.retryWhile ?? (() => true);
  const limits = o.retryLimits ?? LOCK_RETRY;
  const wrapped: InboundDeps['store'] = {
    putMessage: async (m) => {
      const inserted = await rt.retryOnLockTimeout('putMessage', () => store.putMessage(m), more, { msgId: m.msgId, queueId: m.queueId, via }, limits);
      rt.emit('stored', { msgId: m.msgId, queueId: m.queueId, via, duplicate: !inserted });
      return inserted;
    },
    hasMessage: (id) => store.hasMessage(id),
    markNotified: (id) => rt.retryOnLockTimeout('markNotified', () => store.markNotified(id), more, { msgId: id, via }, limits),
  };
  const quarantineAdd = store.quarantineAdd?.bind(store);
  const inbox = rt.inbox;
  return {
    host: rt.host,
    // Getters: a fetch loop that outlives a `lock` command sees the lock at its next
    // message. (Never spread these deps: `{...deps}` would freeze the getters' values.)
    get store() {
      return rt.unlocked && store.unlocked ? wrapped : null;
    },
    get bodyKey() {
      return bodyKey();
    },
    inbox: {
      // The inbox is shared storage like the DB: its appends run in the database
      // class, so none starts after a suspension (or a yield to the app) began —
      // the app's inbox import then sees every append the NSE will ever make.
      // Marker appends and scans take the inbox file lock too: tracked the same way.
      append: (m) =>
        rt.gate.run('database', () =>
          inboxWrites.track(async () => {
            await inbox.append(m);
            rt.emit('inboxed', { msgId: m.msgId, queueId: m.queueId, via });
            // The key came back while this append ran (an unlock's import may have claimed the
            // file before it): nothing else would import it until the next wake.
            if (rt.unlocked) rt.onInboxAppendedUnlocked?.();
          }),
        ),
      markNotified: (msgId, queueId) =>
        rt.gate.run('database', () =>
          inboxWrites.track(async () => {
            const fresh = await inbox.markNotified(msgId, queueId);
            rt.emit('inbox-marked', { msgId, queueId, via, fresh });
            return fresh;
          }),
        ),
      isNotified: (msgId) => rt.gate.run('database', () => inboxWrites.track(() => inbox.isNotified(msgId))),
    },
    notifier,
    e2eKey: (queueId: string) => rt.queueCfg.get(queueId)?.e2e ?? null,
    logTag: rt.cfg.role === 'nse' ? 'nse' : 'sync',
    ...(quarantineAdd
      ? {
          quarantine: async (q) => {
            const fresh = await rt.retryOnLockTimeout('quarantine', () => quarantineAdd({ ...q, via }), more, { msgId: q.msgId, queueId: q.queueId, via }, limits);
            reportQuarantined(rt, { ...q, via }, fresh);
            o.onQuarantined?.(q.msgId);
            return fresh;
          },
        }
      : {}),
    control: {
      isSyncQueue: (queueId) => rt.readSync.isSyncQueue(queueId),
      apply: async (plain, msgId) => {
        await rt.readSync.apply(plain, via);
        o.onControl?.(msgId);
      },
    },
  };
}
