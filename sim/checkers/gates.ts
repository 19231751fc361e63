import { DEVICE_PROCS } from './common.js';
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

function phaseOf(op: Op): string | undefined {
  const v = op.value;
  if (typeof v === 'string') return v;
  return typeof v?.phase === 'string' ? v.phase : undefined;
}

/**
 * Invariant 4 — gates hold. For each network/DB op *started* (its invoke; a
 * lone ok/info counts as its own start) by `app` or `nse`, the phase it started
 * in is the op's own `phase` field if recorded, else the last `phase` op that
 * same process instance (proc + pid) reported about itself. DB ops must not
 * start in `suspended`; network ops not in `background`/`suspending`/`suspended`.
 */
export const checkGates: Checker = (history) => {
  const current = new Map<string, { phase: string; op: number }>();
  const violations: Violation[] = [];
  let unphased = 0;
  const started = new Map<string, number>();
  for (const op of history) {
    if (!(DEVICE_PROCS as readonly string[]).includes(op.proc)) continue;
    const key = `${op.proc}#${op.pid ?? ''}`;
    if (op.f === 'phase' && op.type !== 'invoke' && op.type !== 'fail') {
      const p = phaseOf(op);
      if (p) current.set(key, { phase: p, op: op.index });
      continue;
    }
    const net = isNetworkOp(op.f);
    const db = !net && isDbOp(op.f);
    if (!net && !db) continue;
    // Only the start counts: an invoke, or a completion whose invoke we never saw.
    const sk = `${key}\u0000${op.f}\u0000${op.ref ?? ''}`;
    const open = started.get(sk) ?? 0;
    if (op.type === 'invoke') started.set(sk, open + 1);
    else if (open > 0) {
      started.set(sk, open - 1);
      continue;
    }
    const known = current.get(key);
    const phase = op.phase ?? known?.phase;
    if (phase === undefined) {
      unphased++;
      continue;
    }
    const banned = net ? NO_NETWORK_PHASES : NO_DB_PHASES;
    if (banned.includes(phase)) {
      const ops = [op.index];
      if (op.phase === undefined && known) ops.push(known.op);
      violations.push({
        detail: `${op.proc} started ${net ? 'network' : 'DB'} op '${op.f}' while ${phase}`,
        ops,
        proc: op.proc,
      });
    }
  }
  const notes = unphased > 0 ? [`${unphased} gated op(s) had no known phase and were not checked`] : [];
  return verdict('gates', violations, notes);
};
