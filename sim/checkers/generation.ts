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
 * (d) after a release with `wrote: true` producing g, the next acquire by another instance
 *     reports a generation ≥ g and `dirty: true`.
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
  /** The last write release not yet followed by another instance's acquire. */
  let lastWrite: { who: ProcRef; gen: number; op: number } | null = null;
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
      if (lastWrite && !sameProc(lastWrite.who, who)) {
        if (gen < lastWrite.gen || !dirty) {
          violations.push({
            detail: `${op.proc} acquired after ${lastWrite.who.proc}'s write (generation ${lastWrite.gen}, op ${lastWrite.op}) with generation ${gen}, dirty=${dirty}`,
            ops: [lastWrite.op, op.index],
            proc: op.proc,
          });
        }
        lastWrite = null;
      }
      holding.set(k, { gen, op: op.index });
      seen.set(k, gen);
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
    seen.set(k, gen);
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
      lastWrite = { who, gen, op: op.index };
    }
  }
  const notes = skipped > 0 ? [`${skipped} lock op(s) without generation/dirty/wrote fields were not checked`] : [];
  return verdict('generation', violations, notes);
};
