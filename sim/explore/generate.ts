/**
 * Swarm-style random scenarios. Each run first draws a random *palette* (which
 * fault kinds are enabled at all — swarm testing: a run that never partitions
 * explores deeper kill/freeze interleavings, and vice versa), a random world,
 * then 3–12 steps from the palette, many of them triggered at a random
 * failpoint of a random process. Everything comes from the seed: the same
 * seed gives the same scenario, byte for byte.
 */
import { FAILPOINTS, type FailpointName, type Scenario, type Step, validateScenario } from '../scenario/index.js';
import { ErrorCodes, NsekitError } from '../../src/core/errors.js';
import { Prng } from '../fast/prng.js';

type Role = 'app' | 'nse';
type Kind = 'freeze' | 'kill' | 'expire' | 'lock' | 'partition' | 'restart' | 'delay' | 'app' | 'pause' | 'push' | 'inbox' | 'power';
const KINDS: readonly Kind[] = ['freeze', 'kill', 'expire', 'lock', 'partition', 'restart', 'delay', 'app', 'pause', 'push', 'inbox', 'power'];

/** Sites inside a background window: only the window stream (backgroundWindows) triggers there, right after a window. */
const WINDOW_SITES: readonly FailpointName[] = ['bg.window.start', 'bg.window.expire', 'bg.window.end', 'outbox.send'];
/** Failpoints worth stopping at (phase/gate events are reached too, but rarely matter alone). */
const INTERESTING: readonly FailpointName[] = FAILPOINTS.filter((f) => !['gate.opened', 'phase.enter', ...WINDOW_SITES].includes(f));

/**
 * Failpoints inside a lock hold. A step triggered there holds the process with the lock
 * until the step's turn comes; if iOS's budget freezes it meanwhile that is a 0xdead10cc the
 * scenario forced, not one the protocol made. Only kills (always legal: jetsam, crash) use them.
 */
const IN_LOCK: readonly string[] = ['lock.acquired', 'db.tx.begin', 'db.tx.commit', 'lock.release'];
const OUTSIDE_LOCK: readonly FailpointName[] = INTERESTING.filter((f) => !IN_LOCK.includes(f));

/** Seed of run `i` of an exploration with seed `seed` (independent streams per run). */
export function runSeed(seed: number, i: number): number {
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(i + 1, 0x85ebca77)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0 || 1;
}

export function generateScenario(seed: number, name = `explore-${seed}`): Scenario {
  const r = new Prng(seed);
  // Poison messages (a body that never opens: quarantine) draw from their own stream, so adding
  // them left every other choice of a seed as it was (saved seeds keep their scenarios but for it).
  const rPoison = new Prng((seed ^ 0x5bd1e995) >>> 0 || 1);
  const palette = new Set(KINDS.filter(() => r.chance(0.5)));
  const queues = r.chance(0.7) ? 1 : 2;
  const senders = r.chance(0.7) ? 1 : 2;
  const steps: Step[] = [];
  let triggered = false;
  /**
   * A trigger is armed from the start and holds its path until the step's turn: any earlier step
   * that takes time (a trigger of its own, a wait, a foreground waiting for a yield) can keep a
   * process held there for long, its other tasks running on. So a site inside the lock only for a
   * kill that nothing can delay, and a freeze at `phase.suspended` only then too: a later freeze
   * lands wherever the process's other work has got to, a 0xdead10cc the scenario forced.
   */
  const mayStall = () => triggered || steps.some((s) => s.do === 'wait' || s.do === 'foreground' || s.do === 'tap');
  /**
   * After the inbox-import template, later steps get no trigger: one armed from the start on a path
   * the NSE or the app takes first (a GET, a lock wait) would hold it there before the template's
   * own trigger is reached, and the race would never run (the template's steps are skipped).
   */
  let inboxRace = false;
  const trig = (st: Step, p = 0.6): Step => {
    if (inboxRace) return st;
    if (r.chance(p)) {
      const proc: Role = r.chance(0.7) ? 'nse' : 'app';
      const at = r.pick(st.do === 'kill' && !mayStall() ? INTERESTING : OUTSIDE_LOCK);
      triggered = true;
      st.when = r.chance(0.8) ? { proc, at, optional: true } : { proc, at, nth: r.range(2, 3), optional: true };
    }
    return st;
  };
  const send = (): Step => {
    const args: Record<string, unknown> = { count: r.range(1, 3) };
    if (queues > 1) args.queue = r.int(queues);
    if (senders > 1) args.sender = r.int(senders);
    if (r.chance(0.1)) args.notification = false;
    if (rPoison.chance(0.08)) args.poison = true;
    return { do: 'send', args };
  };

  // Most interesting races need the app away: background it first (sometimes straight to expiry).
  if (r.chance(0.85)) steps.push({ do: 'background', proc: 'app' });
  if (r.chance(0.3)) steps.push({ do: 'expire', proc: 'app' });
  const open = { frozen: new Set<Role>(), paused: new Set<Role>(), locked: false, partitioned: false };
  const n = r.range(3, 12);
  for (let k = 0; k < n; k++) {
    const kinds = [...palette];
    // The inbox-import race needs a long set-up: when it is in the palette, favour it.
    const kind: Kind | 'send' = palette.has('inbox') && !triggered && r.chance(0.3) ? 'inbox' : kinds.length === 0 || r.chance(0.35) ? 'send' : r.pick(kinds);
    const role: Role = r.chance(0.7) ? 'nse' : 'app';
    switch (kind) {
      case 'send':
        steps.push(trig(send(), 0.3));
        break;
      case 'push':
        steps.push(trig({ do: 'push', ...(queues > 1 ? { args: { queue: r.int(queues) } } : {}) }, 0.5));
        break;
      case 'freeze':
        if (open.frozen.has(role)) {
          steps.push(trig({ do: 'thaw', proc: role }, 0.2));
          open.frozen.delete(role);
        } else if (mayStall()) {
          // iOS freezes it after the expiry grace by itself (the rules), wherever it has got to.
          steps.push({ do: 'expire', proc: role });
        } else {
          // iOS freezes only a process that has suspended (or after the expiry grace, which
          // the rules do by themselves); a bare freeze mid-work is the 0xdead10cc by definition.
          steps.push({ when: { proc: role, at: 'phase.suspended', optional: true }, do: 'freeze', proc: role });
          triggered = true;
          open.frozen.add(role);
        }
        break;
      case 'kill':
        steps.push(trig({ do: 'kill', proc: role }, 0.8));
        break;
      case 'expire':
        steps.push(trig({ do: 'expire', proc: role }, 0.6));
        break;
      case 'lock':
        steps.push(trig({ do: open.locked ? 'unlock-device' : 'lock-device' }, 0.5));
        open.locked = !open.locked;
        break;
      case 'partition':
        steps.push(trig({ do: open.partitioned ? 'heal' : 'partition' }, 0.5));
        open.partitioned = !open.partitioned;
        break;
      case 'restart':
        steps.push(trig({ do: 'restart-relay' }, 0.5));
        break;
      case 'power':
        // Kills both processes at once, wherever they are (a power cut is always legal).
        steps.push(trig({ do: 'power-cut' }, 0.6));
        open.frozen.clear();
        open.paused.clear();
        break;
      case 'delay':
        steps.push({ do: 'delay-push', args: { ms: r.pick([0, 5, 20, 100]) } });
        break;
      case 'app': {
        // One draw, as `chance(0.5)` took (the same stream for every seed): the lower half brings the
        // app to the front — half of those by a tap on a notification (docs/notifications.md "Tap").
        const d = r.int(4);
        const tap: Step = { do: 'tap', ...(queues > 1 ? { args: { queue: k % queues } } : {}) };
        steps.push(trig(d === 0 ? tap : { do: d === 1 ? 'foreground' : 'background', proc: 'app' }, 0.6));
        break;
      }
      case 'inbox': {
        // docs/scenarios.md (catalogue) "NSE appends to the pending inbox while the app imports it on unlock": the NSE
        // is held (slow, not frozen: iOS thaws an NSE only for a push, which it suppresses while the app
        // is in front) between two appends while the app comes to the front — its yield wait runs out —
        // and imports; it is let go while the import runs (between reading the file and deleting it),
        // and the app is held there until that append is done, so it lands inside the import's window.
        if (open.locked || open.frozen.has('nse') || open.paused.has('nse') || triggered) break;
        const count = r.range(2, 4);
        steps.push({ do: 'lock-device' });
        steps.push({ do: 'send', args: { count } });
        const nth = r.range(2, Math.min(3, count));
        steps.push({ when: { proc: 'nse', at: 'inbox.append', nth, optional: true }, do: 'pause', proc: 'nse' });
        const fg: Step[] = [{ do: 'foreground', proc: 'app' }, { do: 'unlock-device' }];
        steps.push(...(r.chance(0.5) ? fg : fg.reverse()));
        steps.push({ when: { proc: 'app', at: r.pick(['inbox.import.committed', 'lock.released'] as const), optional: true }, do: 'pause', proc: 'app' });
        steps.push({ do: 'resume', proc: 'nse' });
        steps.push({ when: { proc: 'nse', at: 'inbox.append.done', nth, optional: true }, do: 'resume', proc: 'app' });
        triggered = true;
        inboxRace = true;
        break;
      }
      case 'pause':
        if (inboxRace) break; // no trigger after the inbox-import template (see trig)
        if (open.paused.has(role)) {
          steps.push({ do: 'resume', proc: role });
          open.paused.delete(role);
        } else {
          steps.push({ when: { proc: role, at: r.pick(OUTSIDE_LOCK), optional: true }, do: 'pause', proc: role });
          triggered = true;
          open.paused.add(role);
        }
        break;
    }
    if (r.chance(0.15)) steps.push({ do: 'wait', args: { ms: r.pick([1, 5, 20, 50]) } });
  }
  for (const role of open.paused) steps.push({ do: 'resume', proc: role });
  addAccountSteps(seed, steps);
  if (!inboxRace) backgroundWindows(seed, steps, queues, triggered);
  const s: Scenario = { name, description: `generated by nsekit explore (seed ${seed})`, world: { queues, senders, mode: r.chance(0.9) ? 'instant' : 'low-power' }, steps };
  secondDevice(seed, s);
  const v = validateScenario(s);
  if (!v.ok) throw new NsekitError(ErrorCodes.SCENARIO_INVALID, `generator produced an invalid scenario: ${v.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`);
  return v.scenario;
}

/**
 * Push-token verbs (docs/scenarios.md): in about one run in eight, a token change and/or a
 * logout (with, mostly, a later login; else the final heal logs in) at random places among the
 * steps. Drawn from a stream of their own, so every other run's scenario stays what it was.
 */
function addAccountSteps(seed: number, steps: Step[]): void {
  const a = new Prng(runSeed(seed, 0xacc7));
  if (!a.chance(0.125)) return;
  const at = (from = 0) => from + a.int(steps.length - from + 1);
  if (a.chance(0.6)) steps.splice(at(), 0, { do: 'token-change' });
  if (a.chance(0.6)) {
    const i = at();
    steps.splice(i, 0, { do: 'logout' });
    if (a.chance(0.7)) steps.splice(at(i + 1), 0, { do: 'login' });
  }
}

/**
 * Background windows (docs/processes.md "Background windows"): the refresh setting, refresh
 * tasks, silent pushes (some throttled), messages written in the app, a force-quit — inserted at
 * random places (appended in a run with triggered steps), drawn from a stream of their own so the
 * rest of a seed's scenario is unchanged.
 */
function backgroundWindows(seed: number, steps: Step[], queues: number, triggered: boolean): void {
  const r = new Prng((seed ^ 0x2545f491) >>> 0 || 1);
  if (!r.chance(0.4)) return;
  // Anywhere after the first step (usually the app's background) — but after everything in a run
  // with triggered steps, whose race depends on its steps' order and timing.
  const at = () => (triggered ? steps.length : 1 + r.int(steps.length));
  const q = () => (queues > 1 ? { queue: r.int(queues) } : {});
  const n = r.range(1, 3);
  for (let k = 0; k < n; k++) {
    const pick = r.int(10);
    const st: Step =
      pick < 4 ? { do: 'refresh', args: { budgetMs: r.pick([5_000, 30_000]) } }
      : pick < 7 ? { do: 'silent-push', args: { ...q(), ...(r.chance(0.3) ? { throttled: true } : {}) } }
      : pick < 9 ? { do: 'app-send', args: { ...q(), count: r.range(1, 3) } }
      : { do: 'force-quit' };
    const i = at();
    steps.splice(i, 0, st);
    // Something happens inside the window: the app killed (jetsam) or the phone locked there.
    if ((st.do === 'refresh' || st.do === 'silent-push') && r.chance(0.3)) {
      const when = { proc: 'app' as const, at: r.pick(WINDOW_SITES), optional: true };
      steps.splice(i + 1, 0, r.chance(0.5) ? { when, do: 'kill', proc: 'app' } : { when, do: 'lock-device' });
    }
  }
  // The setting comes first (or never: the window is skipped, disabled).
  if (r.chance(0.8)) steps.unshift({ do: 'settings', args: { backgroundRefresh: true } });
}

/** Verbs that act on one device without a `proc` (they take `device` as the proc verbs do). */
const DEVICE_VERBS: readonly string[] = ['lock-device', 'unlock-device', 'power-cut', 'push', 'tap', 'token-change', 'logout', 'login', 'settings', 'refresh', 'silent-push', 'force-quit', 'app-send'];

/**
 * A second device (docs/scenarios.md "A second device"): in about one run in ten the user has two
 * phones and the generated steps are split between them — the app's steps, the NSE's steps and
 * the other device verbs each move to device 2 as a whole (so a pause and its resume, a lock and its
 * unlock stay on one device), and so do the triggers on a moved process. Every send then reaches
 * both devices. Drawn from a stream of its own, so every other run's scenario stays what it was.
 */
function secondDevice(seed: number, s: Scenario): void {
  const r = new Prng(runSeed(seed, 0xde2));
  if (!r.chance(0.1)) return;
  let move = { app: r.chance(0.5), nse: r.chance(0.5), other: r.chance(0.5) };
  if (!move.app && !move.nse && !move.other) move = { ...move, nse: true };
  s.world = { ...s.world, devices: 2 };
  s.steps = s.steps.map((st) => {
    const w = st.when as { proc?: Role } | undefined;
    const to2 = st.proc ? move[st.proc as Role] : DEVICE_VERBS.includes(st.do) && move.other;
    const when2 = w?.proc !== undefined && move[w.proc];
    return { ...st, ...(when2 ? { when: { ...st.when!, device: 2 } } : {}), ...(to2 ? { device: 2 } : {}) } as Step;
  });
}
