import { isEnd } from './common.js';
import { verdict, type Checker, type Violation } from './types.js';

function resultOf(v: unknown): string {
  if (typeof v === 'string') return v;
  const r = (v as Record<string, unknown> | undefined)?.result;
  return typeof r === 'string' ? r : JSON.stringify(r ?? v ?? null);
}

function foundOf(v: unknown): unknown[] {
  const f = (v as Record<string, unknown> | undefined)?.found;
  return Array.isArray(f) ? f : typeof f === 'number' && f > 0 ? [f] : [];
}

/**
 * Invariant 6 — integrity and no plaintext at rest. Every `integrity` op
 * (the orchestrator's `PRAGMA integrity_check`, value `'ok'` or `{result}`)
 * must read 'ok'; every `plaintext.scan` op must have found nothing
 * (`value.found` empty). A kill not followed by any `integrity` op leaves the
 * verdict 'unknown' (the check after every kill was not made).
 */
export const checkIntegrity: Checker = (history) => {
  const violations: Violation[] = [];
  const notes: string[] = [];
  let lastKill: number | undefined;
  for (const op of history) {
    if (isEnd(op) && op.f !== 'exit') lastKill = op.index;
    if (op.f === 'integrity' && op.type !== 'invoke') {
      lastKill = undefined;
      const r = op.type === 'fail' ? `check failed: ${op.error ?? 'unknown error'}` : resultOf(op.value);
      if (r !== 'ok') violations.push({ detail: `integrity_check: ${r}`, ops: [op.index] });
    } else if (op.f === 'plaintext.scan' && op.type !== 'invoke') {
      const found = foundOf(op.value);
      if (op.type === 'fail') notes.push(`plaintext scan at op ${op.index} failed: ${op.error ?? ''}`);
      else if (found.length > 0) violations.push({ detail: `plaintext found at rest: ${JSON.stringify(found).slice(0, 200)}`, ops: [op.index] });
    }
  }
  const unknown = lastKill !== undefined && violations.length === 0;
  if (unknown) notes.push(`no integrity check after the kill at op ${lastKill}`);
  return verdict('integrity', violations, notes, unknown);
};
