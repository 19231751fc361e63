/**
 * Shrinking a failing scenario to a minimal reproduction: delta debugging
 * (ddmin) over the step list, then one-step removals, then simplifying what
 * is left (drop triggers and `nth`, counts to 1, queue/sender to 0, shorter
 * waits, a smaller world). A candidate is kept only if it is a valid scenario
 * and `runFast` still violates the same invariant — with the current seed, or
 * (removing steps shifts every later scheduling choice) with one of a few
 * neighbouring seeds, which then becomes the reproduction's seed. Bounded by a
 * run budget, so shrinking always ends.
 */
import type { BrokenVariant } from '../broken.js';
import { validateScenario, type Scenario, type Step } from '../scenario/index.js';
import { runFast } from '../fast/run.js';

export interface ShrinkOptions {
  broken?: BrokenVariant;
  /** Most fast runs to spend (default 300). */
  maxRuns?: number;
  /** Seeds tried per candidate: the current one, then its successors (default 3). */
  seedsPerCandidate?: number;
}

export interface ShrinkResult {
  scenario: Scenario;
  /** The seed the shrunk scenario reproduces with (may differ from the input seed). */
  seed: number;
  /** Fast runs spent. */
  runs: number;
  /** Steps before and after. */
  from: number;
  to: number;
}

/** Still fails the same way? (invalid candidates never do) */
type Oracle = (s: Scenario) => Promise<boolean>;

export async function shrinkScenario(s: Scenario, seed: number, invariant: string, opts: ShrinkOptions = {}): Promise<ShrinkResult> {
  const budget = opts.maxRuns ?? 300;
  const tries = Math.max(1, opts.seedsPerCandidate ?? 3);
  let runs = 0;
  let current = seed;
  const fails: Oracle = async (c) => {
    const v = validateScenario(c);
    if (!v.ok) return false;
    for (let k = 0; k < tries && runs < budget; k++) {
      const sd = (current + k) >>> 0;
      runs++;
      const r = await runFast(v.scenario, sd, opts.broken ? { broken: opts.broken } : {});
      if (r.violations.some((x) => x.invariant === invariant)) {
        current = sd;
        return true;
      }
    }
    return false;
  };
  const from = s.steps.length;
  let best: Scenario = clean(s);
  best = await ddmin(best, fails);
  best = await simplify(best, fails);
  return { scenario: best, seed: current, runs, from, to: best.steps.length };
}

/** Same scenario without the fields a reproduction does not need. */
function clean(s: Scenario): Scenario {
  const out: Scenario = { name: s.name, steps: s.steps.map((st) => ({ ...st })) };
  if (s.world) out.world = JSON.parse(JSON.stringify(s.world));
  return out;
}

function withSteps(s: Scenario, steps: Step[]): Scenario {
  // A step whose `after` target was removed would be invalid: drop the dangling trigger.
  const ids = new Set<string>();
  const fixed = steps.map((st) => {
    const w = st.when as { after?: string } | undefined;
    const c = { ...st };
    if (w?.after !== undefined && !ids.has(w.after)) delete c.when;
    if (c.id) ids.add(c.id);
    return c;
  });
  return { ...s, steps: fixed };
}

async function ddmin(s: Scenario, fails: Oracle): Promise<Scenario> {
  let steps = s.steps;
  let n = 2;
  while (steps.length >= 2) {
    const size = Math.ceil(steps.length / n);
    let reduced = false;
    for (let i = 0; i < n && !reduced; i++) {
      const complement = [...steps.slice(0, i * size), ...steps.slice((i + 1) * size)];
      if (complement.length < steps.length && (await fails(withSteps(s, complement)))) {
        steps = complement;
        n = Math.max(n - 1, 2);
        reduced = true;
      }
    }
    if (!reduced) {
      if (n >= steps.length) break;
      n = Math.min(n * 2, steps.length);
    }
  }
  // One-step removals until none helps (ddmin may stop at 1-minimal only for chunks).
  for (let i = steps.length - 1; i >= 0; i--) {
    const c = [...steps.slice(0, i), ...steps.slice(i + 1)];
    if (c.length > 0 && (await fails(withSteps(s, c)))) steps = c;
  }
  return withSteps(s, steps);
}

/** Candidate simplifications of one step, simplest first. */
function simpler(st: Step): Step[] {
  const out: Step[] = [];
  const w = st.when as { nth?: number; at?: string } | undefined;
  if (w && st.do !== 'pause') {
    const c = { ...st };
    delete c.when;
    out.push(c);
  }
  if (w?.nth !== undefined) out.push({ ...st, when: { ...(st.when as object), nth: undefined } as Step['when'] });
  const a = st.args as Record<string, unknown> | undefined;
  if (a) {
    if (typeof a.count === 'number' && a.count > 1) out.push({ ...st, args: { ...a, count: 1 } });
    for (const k of ['queue', 'sender'] as const) {
      if (typeof a[k] !== 'number') continue;
      const { [k]: _drop, ...rest } = a; // 0 is the default
      out.push({ ...st, args: rest });
    }
    if (typeof a.ms === 'number' && a.ms > 1) out.push({ ...st, args: { ...a, ms: Math.floor(a.ms / 2) } });
    if (a.notification === false) {
      const { notification: _n, ...rest } = a;
      out.push({ ...st, args: rest });
    }
  }
  if (st.note !== undefined) {
    const c = { ...st };
    delete c.note;
    out.push(c);
  }
  return out.map((c) => JSON.parse(JSON.stringify(c)) as Step); // drops `nth: undefined`
}

async function simplify(s: Scenario, fails: Oracle): Promise<Scenario> {
  let best = s;
  for (let i = 0; i < best.steps.length; i++) {
    for (let changed = true; changed; ) {
      changed = false;
      for (const c of simpler(best.steps[i]!)) {
        const steps = [...best.steps];
        steps[i] = c;
        const cand = withSteps(best, steps);
        if (await fails(cand)) {
          best = cand;
          changed = true;
          break;
        }
      }
    }
  }
  // A smaller world: fewer queues/senders (only if no step names a higher index), the default mode.
  const w = best.world ?? {};
  const cands: Scenario['world'][] = [];
  if ((w.queues ?? 1) > 1) cands.push({ ...w, queues: 1 });
  if ((w.senders ?? 1) > 1) cands.push({ ...w, senders: 1 });
  if (w.mode && w.mode !== 'instant') cands.push({ ...w, mode: 'instant' });
  // One device, once no step is left on device 2 (docs/scenarios.md "A second device").
  if ((w.devices ?? 1) > 1 && !best.steps.some((st) => st.device === 2 || (st.when as { device?: number } | undefined)?.device === 2)) cands.push({ ...w, devices: 1 });
  for (const cw of cands) {
    const cand = { ...best, world: { ...best.world, ...cw } };
    if (await fails(cand)) best = cand;
  }
  return best;
}
