import { verdict, type Checker, type Op, type Violation } from './types.js';

/** Ops that open a network exchange with the relay (see docs/invariants.md). */
export const NETWORK_FS: readonly string[] = ['get', 'ack', 'sub', 'subscribe', 'send', 'status.poll'];
/** Plus any f starting with 'net.'. */
export const NETWORK_PREFIX = 'net.';
/**
 * Ops that start database work. `lock.acquire` counts: the lock is only ever
 * taken to write. Any f starting with 'db.' counts except the ones that finish
 * or close work already started (DB_FINISHING_FS).
 */
export const DB_FS: readonly string[] = ['lock.acquire', 'store.put', 'store.read', 'inbox.import'];
export const DB_PREFIX = 'db.';
export const DB_FINISHING_FS: readonly string[] = ['db.tx.commit', 'db.tx.rollback', 'db.close', 'db.checkpoint'];

/** Phases in which a new network operation must not start. */
export const NO_NETWORK_PHASES: readonly string[] = ['background', 'suspending', 'suspended'];
/** Phases in which a new DB operation must not start. */
export const NO_DB_PHASES: readonly string[] = ['suspended'];

export function isNetworkOp(f: string): boolean {
  return NETWORK_FS.includes(f) || f.startsWith(NETWORK_PREFIX);
}
export function isDbOp(f: string): boolean {
  return DB_FS.includes(f) || (f.startsWith(DB_PREFIX) && !DB_FINISHING_FS.includes(f));
}

/**
 * Network ops judged also by their own class (the phase controller's `gate.blocked` /
 * `gate.opened` reports, src/core/phase/controller.ts): a SEND must not start while the
 * instance's `sendNetwork` class is blocked — e.g. still `activating` with receives open
 * but sends not yet, or blocked by a drain — even in a phase that allows network ops.
 */
export const CLASS_OF: Readonly<Record<string, string>> = { send: 'sendNetwork' };

/** Which gate report an op is ('gate.blocked' / 'gate.opened' as the f, the failpoint, or the real observer's `fp.` op), else null. */
function gateReport(op: Op): 'blocked' | 'opened' | null {
  const f = op.f, fp = op.fp;
  if (f === 'gate.blocked' || fp === 'gate.blocked' || f === 'fp.gate.blocked') return 'blocked';
  if (f === 'gate.opened' || fp === 'gate.opened' || f === 'fp.gate.opened') return 'opened';
  return null;
}

const NETWORK_SET: ReadonlySet<string> = new Set(NETWORK_FS);
const DB_SET: ReadonlySet<string> = new Set(DB_FS);
const DB_FINISHING_SET: ReadonlySet<string> = new Set(DB_FINISHING_FS);
/** isNetworkOp / isDbOp over a set (the checker asks for every device op). */
function gatedKind(f: string): 'net' | 'db' | null {
  if (NETWORK_SET.has(f) || f.startsWith(NETWORK_PREFIX)) return 'net';
  if (DB_SET.has(f) || (f.startsWith(DB_PREFIX) && !DB_FINISHING_SET.has(f))) return 'db';
  return null;
}

function phaseOf(op: Op): string | undefined {
  const v = op.value;
  if (typeof v === 'string') return v;
  return typeof v?.phase === 'string' ? v.phase : undefined;
}

/** What the gates checker tracks per process instance. */
interface Inst {
  /** The last phase the instance reported about itself, and that op. */
  current: { phase: string; op: number } | undefined;
  /** Per f, per ref: invokes not yet completed. */
  started: Map<string, Map<string, number>>;
  /** Per queue: for each GET invoked and not yet completed, whether its start was allowed. */
  getStarts: Map<string, boolean[]>;
  /** Queue + msgId of receives in flight (an allowed GET returned the message, no ACK yet). */
  receiving: Set<string>;
  /** Classes its controller reported blocked (and not opened since), with the report's index. */
  blockedCls: Map<string, number>;
}

/**
 * Invariant 4 — gates hold. For each network/DB op *started* (its invoke; a
 * lone ok/info counts as its own start) by `app` or `nse`, the phase it started
 * in is the op's own `phase` field if recorded, else the last `phase` op that
 * same process instance (proc + pid) reported about itself. DB ops must not
 * start in `suspended`; network ops not in `background`/`suspending`/`suspended`.
 *
 * A receive is one network op from its GET to its ACK (src/core/queue holds one
 * receiveNetwork op for both): an `ack` of the message a GET of the same instance
 * returned on the same queue, where that GET started in an allowed phase, is the
 * end of that in-flight op, not a new start. (The DB write in between is checked
 * by the DB rule as usual: its class is still open while receiveNetwork drains.)
 */
export const checkGates: Checker = (history) => {
  const violations: Violation[] = [];
  let unphased = 0;
  // State per process instance (proc + pid), found by two map lookups rather than a joined
  // string key: this loop visits every device op of every checked history.
  const insts = new Map<string, Map<number | string, Inst>>();
  const instOf = (op: Op): Inst => {
    let byPid = insts.get(op.proc);
    if (!byPid) insts.set(op.proc, (byPid = new Map()));
    const pid = op.pid ?? '';
    let x = byPid.get(pid);
    if (!x) byPid.set(pid, (x = { current: undefined, started: new Map(), getStarts: new Map(), receiving: new Set(), blockedCls: new Map() }));
    return x;
  };
  for (const op of history) {
    if (op.proc !== 'app' && op.proc !== 'nse') continue; // DEVICE_PROCS
    const report = op.type !== 'invoke' && typeof op.value?.cls === 'string' ? gateReport(op) : null;
    const isPhase = report === null && op.f === 'phase' && op.type !== 'invoke' && op.type !== 'fail';
    const kind = report === null && !isPhase ? gatedKind(op.f) : null;
    if (report === null && !isPhase && kind === null) continue;
    const inst = instOf(op);
    if (report !== null) {
      if (report === 'blocked') inst.blockedCls.set(op.value.cls as string, op.index);
      else inst.blockedCls.delete(op.value.cls as string);
      continue;
    }
    if (isPhase) {
      const p = phaseOf(op);
      if (p) inst.current = { phase: p, op: op.index };
      continue;
    }
    const net = kind === 'net';
    // Only the start counts: an invoke, or a completion whose invoke we never saw.
    let byRef = inst.started.get(op.f);
    if (!byRef) inst.started.set(op.f, (byRef = new Map()));
    const ref = op.ref === undefined || op.ref === null ? '' : String(op.ref);
    const open = byRef.get(ref) ?? 0;
    const q = op.f === 'get' || op.f === 'ack' ? String(op.value?.queueId ?? '') : '';
    if (op.type === 'invoke') byRef.set(ref, open + 1);
    else if (open > 0) {
      byRef.set(ref, open - 1);
      if (op.f === 'get') noteGetDone(op, inst, q, inst.getStarts.get(q)?.shift() ?? false);
      continue;
    }
    // The ACK that ends a receive whose GET started while the class was open.
    if (op.f === 'ack') {
      const rk = `${q}\u0000${String(op.value?.msgId ?? '')}`;
      if (inst.receiving.delete(rk)) continue;
    }
    const known = inst.current;
    const phase = op.phase ?? known?.phase;
    if (phase === undefined) {
      unphased++;
      if (op.f === 'get') noteGetStart(op, inst, q, false);
      continue;
    }
    const banned = (net ? NO_NETWORK_PHASES : NO_DB_PHASES).includes(phase);
    if (op.f === 'get') noteGetStart(op, inst, q, !banned);
    const cls = CLASS_OF[op.f];
    const clsAt = cls === undefined ? undefined : inst.blockedCls.get(cls);
    if (!banned && cls !== undefined && clsAt !== undefined) {
      violations.push({ detail: `${op.proc} started network op '${op.f}' while its ${cls} class was blocked (${phase})`, ops: [clsAt, op.index], proc: op.proc });
    } else if (banned) {
      const ops = [op.index];
      if (op.phase === undefined && known) ops.push(known.op);
      violations.push({
        detail: `${op.proc} started ${net ? 'network' : 'DB'} op '${op.f}' while ${phase}`,
        ops,
        proc: op.proc,
      });
    }
  }
  function noteGetStart(op: Op, inst: Inst, q: string, allowed: boolean): void {
    if (op.type === 'invoke') {
      let list = inst.getStarts.get(q);
      if (!list) inst.getStarts.set(q, (list = []));
      list.push(allowed);
    } else noteGetDone(op, inst, q, allowed); // a lone completion is its own start
  }
  function noteGetDone(op: Op, inst: Inst, q: string, allowed: boolean): void {
    const msgId = op.value?.msgId;
    if (allowed && op.type === 'ok' && typeof msgId === 'string') inst.receiving.add(`${q}\u0000${msgId}`);
  }
  const notes = unphased > 0 ? [`${unphased} gated op(s) had no known phase and were not checked`] : [];
  return verdict('gates', violations, notes);
};
