/**
 * The app's bridge host (ios-bridge/host-contract.md, the app's functions) over the fast world:
 * what both roles' hosts do (./sim-host.ts) plus the store's cursors and outbox, the pending
 * inbox's claim, the relay connection the app keeps — transportConnect, SUB/UNSUB, SEND, PING,
 * NSUB/NDEL of the push token — and the relay's status endpoint.
 *
 * What the relay does on its own reaches the core as runner.js host steps, recorded by the loop
 * 1 ms after the world did it: a message on a subscription (`deliver`, with the body the relay
 * sent) and the connection dropping (`close`). The host keeps the core's callbacks as the runner
 * does — the connection's from the last transportConnect call, each queue's onMessage from its
 * last transportSubscribe until its transportUnsubscribe, both taken when the call is made — so a
 * step finds the same callback (or none, and does nothing) in the recording and in the replay.
 */
import { fromBase64, toBase64 } from '../../src/core/bytes.js';
import { NsekitError } from '../../src/core/errors.js';
import type { RelayMessage } from '../../src/core/host.js';
import type { OutboxState } from '../../src/core/session/index.js';
import type { InboxFile } from '../fast/inbox.js';
import type { SimProc } from '../fast/proc.js';
import type { FastWorld } from '../fast/world.js';
import type { RecordLoop } from './record-loop.js';
import { sharedWork, simHost, simServices, wireMessage, type SimHostHooks } from './sim-host.js';

type Cb = (...a: unknown[]) => void;

export interface SimAppHost {
  host: Record<string, (...a: never[]) => unknown>;
  /** What the loop cannot record (the relay ENDing a subscription: the runner has no such host step). */
  problems: string[];
}

/** The app's host object over `p`'s ports in world `w`, recorded by `loop`; `toCore` brings a world callback into the core's realm. */
export function simAppHost(w: FastWorld, p: SimProc, loop: RecordLoop, hooks: SimHostHooks, toCore: <T>(v: T) => T): SimAppHost {
  const { ctx } = p;
  const svc = simServices(w, p);
  const problems: string[] = [];
  let conn: { onClose?: Cb } = {};
  const subs = new Map<string, Cb>();
  const claimIds = new WeakMap<InboxFile, string>();
  let claimSeq = 0;
  const status = w.status.client(ctx);

  // The world's connection drops (partition, relay restart): the host calls the connection's onClose.
  p.transport.onClose(() =>
    loop.hostStep({ host: 'close' }, () => {
      const f = conn.onClose;
      conn = {};
      if (typeof f !== 'function') return;
      loop.emit({ cb: 'onClose', args: [] });
      f();
    }),
  );
  p.transport.onEnd((queueId) => problems.push(`the relay ENDed the subscription to ${queueId}: the runner has no END host step`));

  /** The relay's MSG on a subscription (the world calls it in the app's process). */
  const delivered = (m: RelayMessage): void => {
    const wm = wireMessage(m);
    loop.hostStep({ host: 'deliver', ...wm }, () => {
      const f = subs.get(wm.queueId);
      if (typeof f !== 'function') return;
      loop.emit({ cb: 'onMessage', queueId: wm.queueId, args: [{ ...wm }] });
      f(toCore({ ...wm }));
    });
  };

  // The app's requests go over the connection of transportConnect (the world's fails them PROTO_CLOSED without one).
  const work = {
    ...sharedWork(w, p, svc, async () => {}),
    storeGetCursor: async (queueId: string) => svc.read(() => ({ ...(w.db.cursors.get(queueId) ?? { lastMsgId: null, lastTs: 0 }) })),
    storeSetCursor: async (queueId: string, c: { lastMsgId: string | null; lastTs: number }) =>
      svc.tx('setCursor', undefined, () => ({ result: null, commit: () => void w.db.cursors.set(queueId, { lastMsgId: c.lastMsgId, lastTs: c.lastTs }) })),
    outboxAdd: async (item: { clientId: string; queueId: string; body: string }) =>
      svc.tx('outboxAdd', undefined, () => {
        const has = w.db.outbox.has(item.clientId);
        const now = w.sched.now;
        const row = { clientId: item.clientId, queueId: item.queueId, body: fromBase64(item.body)!, state: 'pending' as const, attempts: 0, updatedAt: now, createdAt: now, lastError: null };
        return { result: !has, commit: () => void (has || w.db.outbox.set(item.clientId, row)) };
      }),
    // Every row not `sent`, in insertion order (host-contract.md).
    outboxPending: async () =>
      svc.read(() =>
        [...w.db.outbox.values()]
          .filter((o) => o.state !== 'sent')
          .map((o) => ({ clientId: o.clientId, queueId: o.queueId, body: toBase64(o.body), state: o.state, attempts: o.attempts, updatedAt: o.updatedAt })),
      ),
    outboxMark: async (clientId: string, state: Exclude<OutboxState, 'pending'>) =>
      svc.tx('outboxMark', undefined, () => ({
        result: null,
        commit: () => {
          const o = w.db.outbox.get(clientId);
          if (o) w.db.outbox.set(clientId, { ...o, state, updatedAt: w.sched.now, attempts: o.attempts + (state === 'sending' ? 1 : 0) });
        },
      })),
    // One claim per import: a leftover claim first, else the live file renamed; markers carried before answering.
    inboxClaim: async () => {
      const files = w.inboxFiles;
      if (files.claims.length === 0) files.claimLive();
      const claim = files.claims[0];
      if (!claim) return null;
      await files.barrier(claim, ctx);
      files.carry(claim, w.sched.now);
      let id = claimIds.get(claim);
      if (!id) claimIds.set(claim, (id = `claim${++claimSeq}`));
      const records = claim.records.map((r) => ({ msgId: r.msgId, queueId: r.queueId, ts: r.ts, notification: r.flags.notification, sealed: toBase64(r.sealed) }));
      return { claimId: id, records, notified: [...claim.notified, ...claim.carried], torn: 0, bad: 0 };
    },
    inboxClaimDone: async (claimId: string) => {
      const i = w.inboxFiles.claims.findIndex((c) => claimIds.get(c) === claimId);
      if (i < 0) throw new NsekitError('INBOX_IO', `no claim ${claimId}`);
      const [claim] = w.inboxFiles.claims.splice(i, 1); // unlink after the commit
      await ctx.hit('inbox.import.committed', { records: claim!.records.length });
      return null;
    },
    transportConnect: async (onClose: Cb) => {
      conn = { onClose };
      if (!p.transport.connected) await p.transport.connect();
      return null;
    },
    transportSubscribe: async (queueId: string, onMessage: Cb) => {
      subs.set(queueId, onMessage);
      await p.transport.subscribe(queueId, delivered);
      return null;
    },
    transportUnsubscribe: async (queueId: string) => {
      subs.delete(queueId);
      await p.transport.unsubscribe(queueId);
      return null;
    },
    transportSend: async (queueId: string, body: string, notification: boolean, clientId: string) =>
      p.transport.sendWithResult(queueId, fromBase64(body)!, { notification }, clientId ? { clientId } : {}),
    transportPing: async () => {
      await p.transport.ping();
      return null;
    },
    statusGet: async (path: string) => status.get(path),
    // The app registers the device's push token itself (config.pushToken): NSUB / NDEL on its connection.
    transportNsub: async (queueId: string, deviceToken: string) => {
      const r = await p.transport.nsub(queueId, deviceToken);
      return { notifierId: r.notifierId, notifierKey: toBase64(r.notifierKey) };
    },
    transportNdel: async (queueId: string) => {
      await p.transport.ndel(queueId);
      return null;
    },
  };
  return { host: simHost(w, p, loop, hooks, work as never, 'an app'), problems };
}
