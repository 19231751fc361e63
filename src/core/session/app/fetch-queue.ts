import { isNsekitError } from '../../errors.js';
import { fetchAndProcess, type InboundOutcome } from '../../inbound/index.js';
import type { SessionRuntime } from '../runtime.js';
import { Backoff, sleep } from './backoff.js';

/**
 * The app's fetch of one queue in its wake sequence: GET → store → ACK one message at a time
 * (a lifecycle change stops it after the message in flight), in batches of `maxBatch`, at most
 * `maxBatches` batches, the queue's cursor updated after each batch. Returns how many messages
 * were new to the store.
 */
export async function fetchQueueBatches(rt: SessionRuntime, queueId: string, o: { maxBatch: number; maxBatches: number; stop: () => boolean }): Promise<number> {
  const cursor = rt.store.isOpen && rt.unlocked ? await rt.store.getCursor(queueId) : null;
  rt.log('info', 'sync', `start queue=${queueId} since=${cursor?.lastTs ?? 0}`);
  rt.emit('sync', { stage: 'start', queueId });
  let merged = 0;
  // One GET→store→ACK at a time so a lifecycle change stops the fetch after the
  // message in flight (the NSE may take over the queue right after).
  let budget = o.maxBatch * o.maxBatches * 2;
  /** A write still failed with LOCK_TIMEOUT (after the store's own retries): the message stayed at the relay; GET it again. */
  let lockRounds = 0;
  let lockBackoff: Backoff | null = null;
  for (let b = 0; b < o.maxBatches && !o.stop(); b++) {
    const outs: InboundOutcome[] = [];
    let drained = false;
    while (outs.length < o.maxBatch && !o.stop() && budget-- > 0) {
      let one: InboundOutcome[];
      try {
        one = await fetchAndProcess(rt.inboundDeps('get'), rt.queues, queueId, { maxExtraGets: 0, stop: o.stop });
      } catch (e) {
        // Another process ACKed the same message first: it is stored (dedupe), go on.
        if (isNsekitError(e, 'PROTO_NO_MSG')) continue;
        // Not ACKed, so still at the relay: fetch it again once the lock may be free, while the app may write.
        if (isNsekitError(e, 'LOCK_TIMEOUT') && lockRounds++ < 2 && !o.stop() && rt.mayRetryWrites()) {
          lockBackoff ??= new Backoff(rt.host.rng, 250, 2_000);
          const ms = lockBackoff.next();
          rt.log('warn', 'sync', 'write met LOCK_TIMEOUT: fetching the queue again', { queueId, inMs: ms, round: lockRounds });
          await sleep(rt.host.clock, ms);
          continue;
        }
        throw e;
      }
      if (one.length === 0) {
        drained = true;
        break;
      }
      outs.push(...one);
    }
    merged += outs.filter((o) => o.stored !== 'duplicate').length;
    const last = outs[outs.length - 1];
    if (last && rt.unlocked && last.stored !== 'inbox') {
      await rt.store.setCursor(queueId, { lastMsgId: last.msgId, lastTs: rt.host.clock.now() });
    }
    if (drained || budget <= 0) break;
  }
  rt.log('info', 'sync', `merged count=${merged}`, { queueId });
  rt.emit('sync', { stage: 'merged', queueId, count: merged });
  return merged;
}
