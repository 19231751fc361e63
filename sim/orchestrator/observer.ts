import { shownDigests } from '../history/digest.js';
import type { EventMsg } from '../../src/device/ipc.js';
import type { FpHit, ManagedProc } from '../../src/device/proc.js';
import type { HistoryRecorder } from '../history/index.js';

type Role = 'app' | 'nse';

/**
 * Turns what the processes report (failpoint hits and IPC events, in the
 * order each process sent them) into history ops, in the vocabulary the
 * checkers read (docs/invariants.md): lock.acquire / lock.release, db.tx.*,
 * get / ack (invoke at "sent", ok at "ok"), db.write (from `stored`, i.e. after
 * COMMIT), notify, phase. Everything else is kept as an `info` op under its own
 * name so the trace shows it. Also tracks each process's phase and the set of
 * failpoints reached (coverage marks for `expect.hits`).
 */
/** A GET op's pairing ref: the coordinator's slot id, when the hit carries one. */
const getRef = <T extends object>(x: T, f: Record<string, unknown>): T & { ref?: string } => (f.slot === undefined ? x : { ...x, ref: `slot${String(f.slot)}` });

export class Observer {
  readonly hits = new Set<string>();
  readonly phaseOf = new Map<number, string>();
  readonly attached = new Set<number>();
  /** (pid, msgId) pairs whose ACK was already recorded from failpoints. */
  private readonly acked = new Set<string>();
  /** (pid, msgId) ACKs sent whose confirmation has not been reported yet. */
  private readonly ackOpen = new Set<string>();
  private readonly fpListeners = new Set<(role: Role, hit: FpHit, p: ManagedProc) => void>();

  constructor(private readonly h: HistoryRecorder) {}

  onFp(fn: (role: Role, hit: FpHit, p: ManagedProc) => void): () => void {
    this.fpListeners.add(fn);
    return () => this.fpListeners.delete(fn);
  }

  /** Start listening to one process's failpoint hits (including any already reported). */
  attach(role: Role, p: ManagedProc): void {
    if (this.attached.has(p.pid)) return;
    this.attached.add(p.pid);
    // A PhaseController starts `active` without announcing it: record that, so the gates
    // checker knows the phase of the first operations.
    if (!this.phaseOf.has(p.pid)) {
      this.phaseOf.set(p.pid, 'active');
      this.h.info(role, 'phase', { phase: 'active', initial: true }, { pid: p.pid, phase: 'active' });
    }
    for (const hit of p.fpHits) this.fp(role, p, hit);
    p.on('fp', (hit: FpHit) => this.fp(role, p, hit));
  }

  private extra(role: Role, pid: number) {
    const phase = this.phaseOf.get(pid);
    return phase === undefined ? { pid } : { pid, phase };
  }

  private fp(role: Role, p: ManagedProc, hit: FpHit): void {
    this.hits.add(hit.name);
    this.hits.add(`${role}:${hit.name}`);
    const pid = p.pid;
    const f = hit.fields ?? {};
    const x = { ...this.extra(role, pid), fp: hit.name };
    const h = this.h;
    switch (hit.name) {
      case 'lock.acquire.start': h.invoke(role, 'lock.acquire', f, x); break;
      case 'lock.acquired': h.ok(role, 'lock.acquire', f, x); break;
      case 'lock.release': h.invoke(role, 'lock.release', f, x); break;
      case 'lock.released': h.ok(role, 'lock.release', f, x); break;
      case 'db.tx.begin': h.ok(role, 'db.tx.begin', f, x); break;
      // "about to COMMIT": the tx ends here or the process dies inside it (the kill ends it).
      case 'db.tx.commit': h.ok(role, 'db.tx.commit', f, x); break;
      // The coordinator's slot id pairs a GET's invoke with its completion (several may be open).
      case 'net.get.sent': h.invoke(role, 'get', { queueId: f.queueId }, getRef(x, f)); break;
      case 'net.get.ok': h.ok(role, 'get', { queueId: f.queueId, msgId: f.msgId ?? null }, getRef(x, f)); break;
      case 'net.get.fail': h.fail(role, 'get', String(f.code ?? 'error'), { queueId: f.queueId }, getRef(x, f)); break;
      case 'net.ack.fail':
        this.ackOpen.delete(`${pid}:${String(f.msgId)}`);
        h.fail(role, 'ack', String(f.code ?? 'error'), { queueId: f.queueId, msgId: f.msgId }, x);
        break;
      case 'net.ack.sent':
        this.ackOpen.add(`${pid}:${String(f.msgId)}`);
        h.invoke(role, 'ack', { queueId: f.queueId, msgId: f.msgId }, x);
        break;
      case 'net.ack.ok':
        this.ackOpen.delete(`${pid}:${String(f.msgId)}`);
        this.acked.add(`${pid}:${String(f.msgId)}`);
        h.ok(role, 'ack', { queueId: f.queueId, msgId: f.msgId }, x);
        break;
      // The outbox's SEND (src/core/session/app/outbox.ts), judged by the gates checker like a GET.
      case 'net.send.sent': h.invoke(role, 'send', { queueId: f.queueId, clientId: f.clientId }, x); break;
      case 'net.send.ok': h.ok(role, 'send', { queueId: f.queueId, clientId: f.clientId, msgId: f.msgId ?? null, duplicate: f.duplicate === true }, x); break;
      case 'net.send.fail': h.fail(role, 'send', String(f.code ?? 'error'), { queueId: f.queueId, clientId: f.clientId }, x); break;
      case 'phase.enter':
      case 'phase.suspended': {
        const phase = String(f.phase ?? (hit.name === 'phase.suspended' ? 'suspended' : ''));
        this.phaseOf.set(pid, phase);
        h.info(role, 'phase', { phase }, { pid, phase, fp: hit.name });
        break;
      }
      default:
        h.info(role, `fp.${hit.name}`, f, x);
    }
    for (const l of this.fpListeners) l(role, hit, p);
  }

  /** One IPC event from a device process. */
  event(role: Role, e: EventMsg & { pid: number }): void {
    const { type: _t, name, at: _a, role: _r, pid, ...fields } = e as EventMsg & { pid: number; role?: string };
    const x = this.extra(role, pid);
    const h = this.h;
    switch (name) {
      case 'stored':
        // After COMMIT: the durable write. A duplicate is a write that inserted nothing.
        h.ok(role, 'db.write', { msgId: fields.msgId, queueId: fields.queueId, via: fields.via, inserted: fields.duplicate !== true }, x);
        break;
      case 'inboxed':
        h.ok(role, 'inbox.write', { msgId: fields.msgId, queueId: fields.queueId }, x);
        break;
      case 'acked':
        // The SUB path ACKs without the coordinator's failpoints: record it from the event.
        // An ACK the coordinator reported (sent, or sent and confirmed) is recorded from its failpoints.
        if (!this.acked.has(`${pid}:${String(fields.msgId)}`) && !this.ackOpen.has(`${pid}:${String(fields.msgId)}`)) h.ok(role, 'ack', { msgId: fields.msgId, queueId: fields.queueId, via: 'event' }, x);
        break;
      case 'notification':
        // A best-attempt banner (NSE out of time) shows generic text, not the message: it is not the
        // message's notification for invariant 2, so it gets its own name (still in reports).
        {
          // Thread and badge as presented (docs/notifications.md), for the presentation checkers.
          const shown = { msgId: fields.msgId ?? null, queueId: fields.queueId, pushId: fields.pushId, threadId: fields.threadId, ...(fields.badge !== undefined ? { badge: fields.badge } : {}) };
          if (fields.bestAttempt === true) h.info(role, 'notify.placeholder', shown, x);
          else h.ok(role, 'notify', { ...shown, ...shownDigests(fields) }, x);
        }
        break;
      case 'phase':
        // phase.enter (failpoint) already moved the phase at the exact instant; this is the echo.
        h.info(role, 'ev.phase', { phase: fields.phase }, x);
        break;
      default: {
        // Never copy notification text or message content into the history.
        const { title: _ti, body: _b, text: _tx, ...safe } = fields as Record<string, unknown>;
        h.info(role, `ev.${name}`, safe, x);
      }
    }
  }
}
