/**
 * The session's side of the quarantine (docs/receive.md "Quarantine"): reporting a message set
 * aside, and running one through the pipeline again.
 */
import { NsekitError } from '../errors.js';
import { processInbound, type InboundOutcome } from '../inbound/index.js';
import type { SessionRuntime } from './runtime.js';

/**
 * A message went into the quarantine: reported as an `error` event (code INBOUND_QUARANTINED,
 * `reason` the code that makes it unprocessable), so it is never dropped silently.
 */
export function reportQuarantined(rt: SessionRuntime, q: { msgId: string; queueId: string; reason: string; via: string }, fresh: boolean): void {
  rt.log('warn', rt.cfg.role === 'nse' ? 'nse' : 'sync', 'message quarantined', { ...q, fresh });
  rt.emit('error', {
    where: 'quarantine',
    code: 'INBOUND_QUARANTINED',
    message: `message ${q.msgId} on ${q.queueId} can never be processed (${q.reason}): kept sealed in the quarantine, ACKed`,
    msgId: q.msgId,
    queueId: q.queueId,
    reason: q.reason,
    via: q.via,
    fresh,
  });
}

/**
 * Run a quarantined message through the pipeline again (e.g. after a key or config fix). Processed
 * (stored, or found stored): it leaves the quarantine and the outcome is returned; still
 * unprocessable: it stays (attempts bumped, reported again) and comes back as `quarantine`.
 * null: no such entry. Needs the key in memory and a store with the quarantine methods.
 */
export async function retryQuarantined(rt: SessionRuntime, msgId: string): Promise<InboundOutcome | null> {
  const s = rt.store;
  if (!s.quarantineList || !s.quarantineRemove) throw new NsekitError('STORE_CLOSED', 'this store keeps no quarantine');
  if (!rt.unlocked || !s.unlocked) throw new NsekitError('STORE_LOCKED', 'cannot retry a quarantined message while the device is locked');
  const e = (await s.quarantineList()).find((x) => x.msgId === msgId);
  if (!e) return null;
  const out = await processInbound(rt.inboundDeps('retry'), { msgId: e.msgId, queueId: e.queueId, ts: e.ts, flags: { ...e.flags }, body: e.sealed });
  if (out.stored !== 'quarantine') await rt.retryOnLockTimeout('quarantineRemove', () => s.quarantineRemove!(msgId));
  return out;
}
