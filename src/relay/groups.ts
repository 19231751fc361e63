/**
 * Fan-out groups (docs/protocol.md "Fan-out to a user's devices"). A user with several devices has
 * one queue per device (each device's app and NSE own their queue; one token per queue, and a second
 * subscriber ends the first, so two devices never share a queue). A sender addresses the user once:
 * GSEND stores the message into every member queue in ONE transaction — every device gets it or
 * none does — each with its pending notification for that queue's active token, and the relay pushes
 * each token. A part's body is sealed for its queue (each device has its own e2e key).
 */
import { fromBase64, toHex } from '../core/bytes.js';
import { NsekitError } from '../core/errors.js';
import type { GnewCmd, GsendCmd } from '../core/protocol/frames.js';
import { sealNotificationId } from '../core/protocol/notification-id.js';
import { truncateSecret } from '../node/host.js';
import { credHash, credMatches, type SendResult } from './db.js';
import type { RelayContext } from './connection.js';

export interface GroupSendResult {
  /** Per part, in the command's order. */
  results: (SendResult & { queueId: string })[];
  /** Distinct tokens with a notification stored (the devices pushed). */
  tokens: string[];
}

/** GNEW: every member's sender credential must match (one wrong → PROTO_AUTH, nothing created). */
export function createGroup(ctx: RelayContext, f: GnewCmd): { groupId: string; groupCred: string } {
  const { db, rng, clock } = ctx;
  for (const m of f.members) {
    const q = db.getQueue(m.queueId);
    if (!q || !credMatches(m.senderCred, q.senderCredHash)) throw new NsekitError('PROTO_AUTH', 'unknown queue or wrong credential');
  }
  const groupId = toHex(rng.randomBytes(16));
  const groupCred = toHex(rng.randomBytes(32));
  db.atomically(() => {
    db.statement(`INSERT INTO groups (group_id, group_cred_hash, created_at) VALUES (?, ?, ?)`).run(groupId, credHash(groupCred), clock.now());
    const ins = db.statement(`INSERT INTO group_members (group_id, queue_id) VALUES (?, ?)`);
    for (const m of f.members) ins.run(groupId, m.queueId);
  });
  return { groupId, groupCred };
}

/**
 * GSEND: all parts commit together or none (a full queue → PROTO_QUOTA, nothing stored anywhere).
 * With a clientId each part is deduped per queue as SEND is; a repeat stores nothing new.
 */
export function storeGroupSend(ctx: RelayContext, f: GsendCmd): GroupSendResult {
  const { db, limits, clock, rng, dedupe } = ctx;
  const g = db.statement(`SELECT group_cred_hash FROM groups WHERE group_id = ?`).get(f.groupId) as { group_cred_hash: Buffer } | undefined;
  if (!g || !credMatches(f.groupCred, new Uint8Array(g.group_cred_hash))) throw new NsekitError('PROTO_AUTH', 'unknown group or wrong credential');
  const members = (db.statement(`SELECT queue_id FROM group_members WHERE group_id = ?`).all(f.groupId) as { queue_id: string }[]).map((r) => r.queue_id);
  const named = new Set(f.parts.map((p) => p.queueId));
  if (named.size !== members.length || members.some((q) => !named.has(q))) {
    throw new NsekitError('PROTO_GROUP_MEMBERS', `parts must name each of the group's ${members.length} member queues exactly once`);
  }
  // The dedupe window and the notifications' age run on the clock; `ts` may run a few ms ahead of it (db.nextTs).
  const now = clock.now();
  const ts = db.nextTs(now);
  const tokens = new Set<string>();
  const results = db.atomically(() =>
    f.parts.map((p) => {
      const q = db.getQueue(p.queueId)!;
      const notify = f.flags.notification && q.deviceToken !== null && q.tokenActive && q.notifierKey !== null && q.notifierId !== null;
      const dd = f.clientId === undefined ? undefined : { clientId: f.clientId, now, windowMs: dedupe.windowMs, cleanupBatch: dedupe.cleanupBatch };
      const res = db.storeSend(q.queueId, limits.maxQueueMessages, dd, () => {
        const msgId = toHex(rng.randomBytes(16));
        const msg = { msgId, queueId: q.queueId, ts, notification: f.flags.notification, body: fromBase64(p.body)! }; // the codec validated it
        if (!notify) return { msg };
        tokens.add(q.deviceToken!);
        const sealed = sealNotificationId(q.notifierKey!, rng, q.notifierId!, { msgId, ts });
        return { msg, ntf: { token: q.deviceToken!, queueId: q.queueId, msgId, notifierId: q.notifierId!, sealed, createdAt: now } };
      });
      return { ...res, queueId: q.queueId };
    }),
  );
  return { results, tokens: [...tokens] };
}

/** After the commit: deliver to live subscribers, push each device's token, log the fan-out. */
export function afterGroupSend(ctx: RelayContext, f: GsendCmd, r: GroupSendResult): void {
  for (const p of r.results) if (!p.duplicate) ctx.subs.deliverNext(p.queueId);
  for (const t of r.tokens) ctx.notifier.schedule(t);
  if (f.flags.notification && r.results.some((p) => !p.duplicate)) {
    ctx.log.log('info', 'push', `notify:fanout group=${truncateSecret(f.groupId)} recipients=${r.tokens.length}`, { queues: r.results.length });
  }
}
