import type { OpInput, OpType } from './types.js';

/**
 * How a failpoint hit reported by a process (src/node/failpoints.ts sends
 * `{name, fields, pid}`) becomes a history op, so checkers see lock holds,
 * transactions, GET/ACK exchanges, writes and notifications without the
 * processes recording anything else. Unknown names become `info` ops with
 * `f: 'fp:<name>'` (visible in reports, ignored by checkers).
 */
const MAP: Record<string, { type: OpType; f: string; value?: (x: Record<string, unknown>) => Record<string, unknown> }> = {
  'lock.acquire.start': { type: 'invoke', f: 'lock.acquire' },
  'lock.acquired': { type: 'ok', f: 'lock.acquire' },
  'lock.release': { type: 'invoke', f: 'lock.release' },
  'lock.released': { type: 'ok', f: 'lock.release' },
  'db.tx.begin': { type: 'ok', f: 'db.tx.begin' },
  // Fires just before COMMIT: the tx stays open until the lock release (see no-dead10cc).
  'db.tx.commit': { type: 'invoke', f: 'db.tx.commit' },
  'net.get.sent': { type: 'invoke', f: 'get' },
  'net.get.ok': { type: 'ok', f: 'get' },
  'net.get.fail': { type: 'fail', f: 'get' },
  'net.ack.sent': { type: 'invoke', f: 'ack' },
  'net.ack.fail': { type: 'fail', f: 'ack' },
  'net.ack.ok': { type: 'ok', f: 'ack' },
  'inbox.append': { type: 'invoke', f: 'inbox.append' },
  'inbox.append.done': { type: 'ok', f: 'inbox.append' },
  'inbox.import.carried': { type: 'info', f: 'inbox.carried' },
  'inbox.import.committed': { type: 'ok', f: 'inbox.import' },
  'db.write.done': { type: 'ok', f: 'db.write', value: (x) => ({ ...x, inserted: x.duplicate !== true }) },
  // The pipeline handed the content to its notifier; whether it was shown is the session's
  // `notification` event (recorded as `notify`, in both modes), not this hit.
  'notify.shown': { type: 'info', f: 'notify.shown' },
  'phase.enter': { type: 'info', f: 'phase' },
  'phase.suspended': { type: 'info', f: 'phase.suspended' },
  'queue.slot.acquired': { type: 'info', f: 'queue.slot.acquired' },
  'queue.slot.released': { type: 'info', f: 'queue.slot.released' },
  'queue.slot.expired': { type: 'info', f: 'queue.slot.expired' },
  'gate.blocked': { type: 'info', f: 'gate.blocked' },
  'gate.opened': { type: 'info', f: 'gate.opened' },
  'inbound.decrypted': { type: 'info', f: 'inbound.decrypted' },
  'bg.window.start': { type: 'info', f: 'bg.window.start' },
  'bg.window.expire': { type: 'info', f: 'bg.window.expire' },
  'bg.window.end': { type: 'info', f: 'bg.window.end' },
  'outbox.send': { type: 'info', f: 'outbox.send' },
};

/**
 * Failpoints that are recorded as ops but are not scenario trigger sites (not in FAILPOINTS,
 * sim/scenario/failpoints.ts, so the explore generator and the scenario schema do not offer
 * them). The outbox's SEND (src/core/session/app/outbox.ts): invoke at `net.send.sent`, ok at
 * `net.send.ok`, fail at `net.send.fail` — the gates checker judges its start. The fast mode
 * records the same `send` ops from its transport (sim/fast/relay.ts), so its world does not
 * map these (FAILPOINT_OP_MAP): it keeps them as `fp:net.send.*` info ops.
 */
const EXTRA: Record<string, { type: OpType; f: string; value?: (x: Record<string, unknown>) => Record<string, unknown> }> = {
  'net.send.sent': { type: 'invoke', f: 'send' },
  'net.send.ok': { type: 'ok', f: 'send' },
  'net.send.fail': { type: 'fail', f: 'send' },
};

export function opFromFailpoint(proc: string, pid: number | undefined, name: string, fields: Record<string, unknown> = {}): OpInput {
  const m = MAP[name] ?? EXTRA[name];
  const base = pid === undefined ? { proc } : { proc, pid };
  if (!m) return { ...base, type: 'info', f: `fp:${name}`, value: fields, fp: name };
  // A GET's slot id pairs its invoke with its completion (a process may have several open).
  const ref = m.f === 'get' && fields.slot !== undefined ? { ref: `slot${String(fields.slot)}` } : {};
  if (m.type === 'fail') return { ...base, type: 'fail', f: m.f, value: fields, fp: name, error: String(fields.code ?? 'error'), ...ref };
  return { ...base, type: m.type, f: m.f, value: m.value ? m.value(fields) : fields, fp: name, ...ref };
}

export const FAILPOINT_OP_MAP: Readonly<Record<string, { type: OpType; f: string }>> = MAP;
/** The recorded-only failpoints (see EXTRA). */
export const EXTRA_FAILPOINT_OP_MAP: Readonly<Record<string, { type: OpType; f: string }>> = EXTRA;
