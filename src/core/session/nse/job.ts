import { fromBase64 } from '../../bytes.js';
import { isNsekitError } from '../../errors.js';
import { openNotificationId } from '../../protocol/index.js';
import type { PushItem } from '../commands.js';
import type { SessionRuntime } from '../runtime.js';

/** One push the NSE is handling (./nse.ts). */
export interface Job {
  pushId: string;
  receivedAt: number;
  /** Refs from the push: queue + the notified msgId (if it opened). */
  refs: { queueId: string; msgId: string | null }[];
  /** Notified (or best-attempt) per msgId, so the expiry path never shows one twice. */
  shown: Set<string>;
  done: boolean;
  /** Came in during a suspension: it reactivates the extension once that is over. */
  waiting?: boolean;
  /** Was fetching when the app came to the front: the app shows what it fetched, even if this job finishes after the app has left again. */
  handedOver?: boolean;
}

/**
 * A push's items as queue refs: each sealed notification id opened with its queue's notifier key
 * (docs/protocol.md); an id that does not open still names the queue to GET (msgId null), an
 * unknown notifier is logged and skipped.
 */
export function pushRefs(rt: SessionRuntime, items: PushItem[]): Job['refs'] {
  const out: Job['refs'] = [];
  for (const it of items) {
    // A host whose push names a configured queue itself (the bridge's `queueIds`): no msgId to match.
    if (typeof it.queueId === 'string' && rt.queueCfg.has(it.queueId)) {
      out.push({ queueId: it.queueId, msgId: null });
      continue;
    }
    const nid = typeof it.notifierId === 'string' ? it.notifierId : null;
    const n = nid ? rt.notifiers.get(nid) : undefined;
    if (!n) {
      rt.log('warn', 'nse', 'push for unknown notifier', { notifierId: nid });
      continue;
    }
    let msgId: string | null = null;
    try {
      const sealed = fromBase64(String(it.sealed));
      if (sealed) msgId = openNotificationId(n.key, nid!, sealed).msgId;
    } catch (e) {
      rt.log('warn', 'nse', 'notification id did not open', { code: isNsekitError(e) ? e.code : String(e) });
    }
    out.push({ queueId: n.queueId, msgId });
  }
  return out;
}
