import { isEnd, sameProc, selfOf, targetOf, type ProcRef } from './common.js';
import { verdict, type Checker, type Op, type Violation } from './types.js';

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const keyOf = (p: ProcRef) => `${p.proc}#${p.pid ?? ''}`;

/**
 * Invariant 8 — the lock generation. The cross-process lock carries a shared counter that
 * every release after a write bumps, so the next holder knows to reload its caches
 * (`LockGrant.dirty`, src/core/host.ts). From the lock ops every host records
 * (`lock.acquire` ok: `generation`, `dirty`; `lock.release` ok: `generation`, `wrote`):
 *
 * (a) a release reports the generation its holder acquired plus one if it wrote
 *     (`wrote: true`), unchanged otherwise;
 * (b) no two releases with `wrote: true` report the same generation (each write is its own
 *     step: two writers publishing one number means one bump was lost);
 * (c) an acquire reports `dirty: true` exactly when the generation differs from the one this
 *     instance last saw (its own last acquire or release), or it never held the lock;
 * (d) an instance never acquires a generation below one it has already seen (the counter it
 *     read was stale: a write it could not know about was lost to it).
 *
 * With (a)–(c), the next acquire by another instance after a write producing g reports g (or
 * more) and `dirty: true`. The check is by generations and per instance, never by the order in
 * which different processes' ops were recorded: in a real run each process reports over its own
 * pipe, and another process's acquire can be recorded before the release it followed
 * (explore --compare seed 1 run 69).
 *
 * Ops without the fields (older histories, hosts that do not report them) are skipped and
 * counted in the notes. A kill/exit/jetsam of the holder ends its hold without a release.
 */
export const checkGeneration: Checker = (history) => {
  const violations: Violation[] = [];
  let skipped = 0;
  /** Per instance: the acquire it holds now (generation and op). */
  const holding = new Map<string, { gen: number; op: number }>();
  /** Per instance: the generation it last saw (acquire or release). */
  const seen = new Map<string, number>();
  /** wrote:true releases by generation produced. */
  const bumps = new Map<number, number>();
  /** Per instance: the highest generation it has seen. */
  const highest = new Map<string, { gen: number; op: number }>();
  const see = (k: string, gen: number, op: number) => {
    seen.set(k, gen);
    if (gen > (highest.get(k)?.gen ?? -Infinity)) highest.set(k, { gen, op });
  };
  const drop = (t: ProcRef) => {
    for (const k of [...holding.keys()]) {
      const [proc, pid] = k.split('#');
      if (sameProc({ proc: proc!, ...(pid ? { pid: Number(pid) } : {}) }, t)) holding.delete(k);
    }
  };
  for (const op of history as Op[]) {
    if (isEnd(op)) {
      drop(targetOf(op));
      continue;
    }
    if (op.type !== 'ok' || (op.f !== 'lock.acquire' && op.f !== 'lock.release')) continue;
    const who = selfOf(op);
    const k = keyOf(who);
    const gen = num(op.value?.generation);
    if (op.f === 'lock.acquire') {
      const dirty = op.value?.dirty;
      if (gen === undefined || typeof dirty !== 'boolean') {
        skipped++;
        holding.delete(k);
        continue;
      }
      const last = seen.get(k);
      const expected = last === undefined || last !== gen;
      if (dirty !== expected) {
        violations.push({
          detail: `${op.proc} acquired generation ${gen} with dirty=${dirty}, but it last saw ${last === undefined ? 'nothing' : `generation ${last}`} (dirty must be ${expected})`,
          ops: [op.index],
          proc: op.proc,
        });
      }
      const top = highest.get(k);
      if (top && gen < top.gen) {
        violations.push({ detail: `${op.proc} acquired generation ${gen} after it had seen generation ${top.gen} (op ${top.op}): the counter went back`, ops: [top.op, op.index], proc: op.proc });
      }
      holding.set(k, { gen, op: op.index });
      see(k, gen, op.index);
      continue;
    }
    // lock.release ok
    const wrote = op.value?.wrote;
    const h = holding.get(k);
    holding.delete(k);
    if (gen === undefined || typeof wrote !== 'boolean') {
      skipped++;
      continue;
    }
    see(k, gen, op.index);
    if (h) {
      const expected = h.gen + (wrote ? 1 : 0);
      if (gen !== expected) {
        violations.push({
          detail: `${op.proc} released with wrote=${wrote} at generation ${gen}, acquired at ${h.gen} (expected ${expected})`,
          ops: [h.op, op.index],
          proc: op.proc,
        });
      }
    }
    if (wrote) {
      const prev = bumps.get(gen);
      if (prev !== undefined) {
        violations.push({ detail: `two writes published generation ${gen} (ops ${prev} and ${op.index}): one bump was lost`, ops: [prev, op.index], proc: op.proc });
      } else bumps.set(gen, op.index);
    }
  }
  const notes = skipped > 0 ? [`${skipped} lock op(s) without generation/dirty/wrote fields were not checked`] : [];
  return verdict('generation', violations, notes);
};
