import { HistoryRecorder } from '../../sim/history/recorder.js';
import type { Op, OpInput } from '../../sim/history/types.js';

/** Builds hand-written histories with deterministic times and named ops. */
export class H {
  readonly r: HistoryRecorder;
  readonly at: Record<string, number> = {};
  private t = 0;
  constructor() {
    this.r = new HistoryRecorder({ now: () => (this.t += 5) });
  }
  op(input: OpInput, name?: string): Op {
    const op = this.r.append(input);
    if (name) this.at[name] = op.index;
    return op;
  }
  get ops(): Op[] {
    return [...this.r.history];
  }
}

export const APP = { proc: 'app', pid: 100 } as const;
export const NSE = { proc: 'nse', pid: 200 } as const;

/**
 * A correct run: the NSE is pushed for m1, takes the lock, GETs, writes in a
 * transaction, releases, ACKs, notifies, suspends; then the orchestrator
 * freezes it (lock free). The app comes to the foreground and receives m2.
 */
export function validRun(): H {
  const h = new H();
  h.op({ ...APP, type: 'info', f: 'phase', value: { phase: 'background' } }, 'appBg');
  h.op({ ...APP, type: 'info', f: 'phase', value: { phase: 'suspended' } }, 'appSusp');
  h.op({ proc: 'sender', type: 'invoke', f: 'send', value: { queueId: 'q1' } });
  h.op({ proc: 'sender', type: 'ok', f: 'send', value: { queueId: 'q1', msgId: 'm1', notification: true } }, 'send1');
  h.op({ ...NSE, type: 'info', f: 'phase', value: { phase: 'active' } });
  h.op({ ...NSE, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'get1');
  h.op({ ...NSE, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm1' } }, 'get1ok');
  h.op({ ...NSE, type: 'invoke', f: 'lock.acquire' });
  h.op({ ...NSE, type: 'ok', f: 'lock.acquire' }, 'lock');
  h.op({ ...NSE, type: 'ok', f: 'db.tx.begin' }, 'txBegin');
  h.op({ ...NSE, type: 'invoke', f: 'db.write', value: { msgId: 'm1' } });
  h.op({ ...NSE, type: 'ok', f: 'db.write', value: { msgId: 'm1', inserted: true } }, 'write1');
  h.op({ ...NSE, type: 'ok', f: 'db.tx.commit' }, 'commit');
  h.op({ ...NSE, type: 'invoke', f: 'lock.release' });
  h.op({ ...NSE, type: 'ok', f: 'lock.release' }, 'unlock');
  h.op({ ...NSE, type: 'invoke', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } });
  h.op({ proc: 'relay', type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } }, 'relayAck1');
  h.op({ ...NSE, type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm1' } }, 'ack1');
  h.op({ ...NSE, type: 'ok', f: 'notify', value: { msgId: 'm1' } }, 'notify1');
  h.op({ ...NSE, type: 'info', f: 'phase', value: { phase: 'suspending' } });
  h.op({ ...NSE, type: 'info', f: 'phase', value: { phase: 'suspended' } }, 'nseSusp');
  h.op({ proc: 'orchestrator', type: 'ok', f: 'freeze', value: { proc: 'nse', pid: 200 } }, 'freeze');
  h.op({ ...APP, type: 'info', f: 'phase', value: { phase: 'active' } }, 'appActive');
  h.op({ proc: 'sender', type: 'ok', f: 'send', value: { queueId: 'q1', msgId: 'm2', notification: false } }, 'send2');
  h.op({ ...APP, type: 'invoke', f: 'get', value: { queueId: 'q1' } }, 'get2');
  h.op({ ...APP, type: 'ok', f: 'get', value: { queueId: 'q1', msgId: 'm2' } }, 'get2ok');
  h.op({ ...APP, type: 'ok', f: 'lock.acquire' });
  h.op({ ...APP, type: 'ok', f: 'db.tx.begin' });
  h.op({ ...APP, type: 'ok', f: 'db.write', value: { msgId: 'm2', inserted: true } }, 'write2');
  h.op({ ...APP, type: 'ok', f: 'db.tx.commit' });
  h.op({ ...APP, type: 'ok', f: 'lock.release' });
  h.op({ ...APP, type: 'invoke', f: 'ack', value: { queueId: 'q1', msgId: 'm2' } });
  h.op({ proc: 'relay', type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm2' } }, 'relayAck2');
  h.op({ ...APP, type: 'ok', f: 'ack', value: { queueId: 'q1', msgId: 'm2' } });
  h.op({ proc: 'orchestrator', type: 'info', f: 'integrity', value: { result: 'ok' } });
  h.op({ proc: 'orchestrator', type: 'info', f: 'plaintext.scan', value: { found: [] } });
  h.op({ proc: 'orchestrator', type: 'info', f: 'store.snapshot', value: { msgIds: ['m1', 'm2'], inbox: { msgIds: [] } } }, 'storeSnap');
  h.op({ proc: 'orchestrator', type: 'info', f: 'relay.snapshot', value: { deleted: ['m1', 'm2'], queued: [] } }, 'relaySnap');
  return h;
}
