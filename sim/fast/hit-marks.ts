type Role = 'app' | 'nse';

/** Failpoints that only announce bookkeeping: recorded, but no scheduling point unless a trigger waits there. */
export const PASS_THROUGH: ReadonlySet<string> = new Set(['phase.enter', 'gate.blocked', 'gate.opened', 'queue.slot.released', 'queue.slot.expired']);

/** `role:name` coverage marks, built once per failpoint (a fresh string per hit costs a flatten and a hash in the set). */
const HIT_MARKS = { app: new Map<string, string>(), nse: new Map<string, string>() };
export function hitMark(role: Role, name: string): string {
  const m = HIT_MARKS[role];
  let s = m.get(name);
  if (s === undefined) m.set(name, (s = `${role}:${name}`));
  return s;
}
