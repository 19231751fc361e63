/**
 * `runFast(scenario, seed)`: one scenario in one process on a virtual clock,
 * with a seeded scheduler. Same seed → the same history, op for op. The
 * history has the format of the real mode and is judged by the same
 * `checkAll`; the final state is recorded as snapshot ops (store, inbox,
 * relay), plus an integrity op (the in-memory store holds committed rows
 * only, so it reads 'ok' by construction) and a real plaintext scan of every
 * byte at rest.
 */
import { deriveKey } from '../../src/core/crypto/index.js';
import { contentRows } from '../history/content-snapshot.js';
import { checkAll, judgeRun, type CheckResult, type RunJudgement, type Verdict } from '../checkers/index.js';
import type { History } from '../history/types.js';
import { checkExpectations, resolveWorld, type Scenario, type World } from '../scenario/index.js';
import type { SessionComponents } from '../../src/core/session/index.js';
import type { BrokenVariant } from '../broken.js';
import { brokenComponents } from '../broken-components.js';
import { utf8Encode } from '../../src/core/bytes.js';
import { ErrorCodes, NsekitError } from '../../src/core/errors.js';
import { StepRunner } from './steps.js';
import { FastWorld, ORCH } from './world.js';
import { buildWorlds } from './devices.js';

export interface FastOptions {
  broken?: BrokenVariant;
  /** Scheduler step bound (livelock guard). Default 200 000. */
  maxSteps?: number;
  /** Virtual-ms bound on the steps part of the run. Default 600 000. */
  maxStepsMs?: number;
  /** Builds the world (sim/bridge: one whose NSE is the bridge bundle's facade). Default: FastWorld. */
  world?: (world: World, seed: number, broken?: BrokenVariant, components?: SessionComponents) => FastWorld;
}

export interface FastViolation {
  invariant: string;
  detail: string;
  replay: string;
}

export interface FastResult {
  valid: CheckResult['valid'];
  /** As the real mode's: a step that never ran as written makes it unknown (2), a harness failure 4. */
  exitCode: RunJudgement['exitCode'];
  verdicts: Verdict[];
  violations: FastViolation[];
  history: History;
  /** Failpoints reached, as `proc:name`. */
  hits: string[];
  /** `expect.hits` marks the run did not reach. */
  missingHits: string[];
  /** The scenario's `expect` held (verdict, exact violated invariants, coverage marks). */
  expectMet: boolean;
  expectProblems: string[];
  /** Steps that could not run as written, and harness failures (as the real mode's). */
  harnessErrors: string[];
  /** History length. */
  events: number;
  /** Scheduler steps and virtual ms the run took. */
  steps: number;
  virtualMs: number;
}

/** The command that replays a saved scenario file in fast mode. */
export function replayCommand(file: string, seed: number, broken?: BrokenVariant): string {
  return `nsekit sim ${file} --seed ${seed} --mode fast${broken ? ` --broken ${broken}` : ''}`;
}

export async function runFast(scenario: Scenario, seed: number, opts: FastOptions = {}): Promise<FastResult> {
  const world = resolveWorld(scenario);
  // One world per device (`world.devices`, ./devices.ts); device 1's is `w`. A custom world
  // (sim/bridge's, whose NSE is the bridge bundle) is one device.
  if (opts.world && (world.devices ?? 1) > 1) throw new NsekitError(ErrorCodes.SCENARIO_INVALID, `${scenario.name}: a custom fast world runs one device (world.devices: ${world.devices})`);
  const worlds = opts.world ? [opts.world(world, seed, opts.broken, brokenComponents(opts.broken))] : buildWorlds(world, seed, opts.broken, brokenComponents(opts.broken));
  const w = worlds[0]!;
  const runner = new StepRunner(w, scenario, worlds.slice(1));
  const maxSteps = opts.maxSteps ?? 200_000;
  w.h.info(ORCH, 'run', { scenario: scenario.name, seed, mode: 'fast', ...(opts.broken ? { broken: opts.broken } : {}), triggers: scenario.steps.map((st) => (st.when as { proc?: string } | undefined)?.proc ?? null) });

  // The device starts with the app in the foreground.
  // The device starts with the app in the foreground; steps begin once it is up (as in the real mode, after `ready`).
  let up = false;
  for (const d of worlds) d.launchApp();
  void Promise.all(worlds.map((d) => d.postApp('active', { untilDone: true }))).finally(() => (up = true));
  await w.sched.run({ untilMs: 60_000, maxSteps, stop: () => up });
  const steps = runner.run();
  await w.sched.run({ untilMs: opts.maxStepsMs ?? 600_000, maxSteps, stop: () => runner.done, onIdle: () => runner.giveUp() });
  const harness = runner.harnessErrors;
  if (!runner.done) {
    harness.push('steps did not finish within the bounds');
    w.h.info(ORCH, 'harness', { error: 'steps did not finish within the bounds', steps: w.sched.steps, now: w.sched.now });
    runner.disarm();
  }
  void steps;

  // Heal everything, app to the front, let it converge.
  // The convergence wait starts once the app is active again (as in the real mode).
  let healed = false;
  void runner.healAll().then(() => (healed = true));
  await w.sched.run({ untilMs: w.sched.now + 30_000, maxSteps: maxSteps * 2, stop: () => healed });
  if (!healed) {
    harness.push('final foreground did not finish');
    w.h.info(ORCH, 'harness', { error: 'final foreground did not finish' });
  }
  w.h.info(ORCH, 'converge', { ms: world.convergenceMs }); // the liveness bound counts from here (as the real mode)
  await w.sched.run({ untilMs: w.sched.now + world.convergenceMs, maxSteps: maxSteps * 3 });

  for (const d of worlds) snapshot(d);
  const check = checkAll(w.h.history, { convergenceMs: world.convergenceMs });
  const hits = [...w.hits].sort();
  // Coverage from the hits the world collected (same rule as sim/scenario's missingHits, without a history scan).
  const marks = scenario.expect?.hits ?? [];
  const names = marks.length ? new Set([...w.hits].map((h) => h.slice(h.indexOf(':') + 1))) : null;
  const missing = marks.filter((m) => !(m.includes(':') ? w.hits.has(m) : names!.has(m)));
  const { hits: _h, ...expectRest } = scenario.expect ?? {};
  const exp = checkExpectations({ ...scenario, expect: expectRest }, w.h.history, check);
  if (missing.length) exp.problems.push(`failpoints never reached (race not hit): ${missing.join(', ')}`);
  exp.problems.push(...harness.map((x) => `harness: ${x}`));
  exp.ok = exp.problems.length === 0;
  const judged = judgeRun(check, harness, missing);
  const replay = replayCommand(`<${scenario.name}.json>`, seed, opts.broken);
  return {
    valid: judged.valid,
    exitCode: judged.exitCode,
    verdicts: check.verdicts,
    violations: check.verdicts.flatMap((v) => v.violations.map((x) => ({ invariant: v.invariant, detail: x.detail, replay }))),
    history: w.h.history,
    hits,
    missingHits: missing,
    expectMet: exp.ok,
    expectProblems: exp.problems,
    harnessErrors: harness,
    events: w.h.size,
    steps: w.sched.steps,
    virtualMs: w.sched.now,
  };
}

/** Final state as snapshot ops, read from the durable model (never from a process's memory). */
function snapshot(w: FastWorld): void {
  w.h.ok(ORCH, 'integrity', { result: 'ok', how: 'fast mode: the in-memory store keeps committed rows only' });
  const needles = w.markers.map((m) => utf8Encode(m));
  const blobs = [...w.db.messages.values()].map((m) => m.sealed).concat(
    [...w.inboxFiles.live.records, ...w.inboxFiles.claims.flatMap((c) => c.records)].map((r) => r.sealed),
  );
  const found = w.markers.filter((_, i) => blobs.some((b) => contains(b, needles[i]!)));
  w.h.ok(ORCH, 'plaintext.scan', { found, scanned: blobs.length });
  const content = contentRows([...w.db.messages.values()].map((m) => ({ msgId: m.msgId, queueId: m.queueId, sealed: m.sealed, notification: m.flags.notification, read: w.db.read.has(m.msgId), deviceSync: w.device !== undefined && m.queueId === w.queueIds[w.queueIds.length - 1] })), deriveKey(w.masterKey, 'body'));
  w.h.ok(ORCH, 'store.snapshot', { msgIds: [...w.db.rows], inbox: { msgIds: w.inboxFiles.msgIds() }, unread: w.db.unread(), content, quarantine: [...w.db.quarantine.keys()] });
  // Two devices: each device's snapshot names its own queues' messages only.
  const mine = w.device === undefined ? null : new Set(w.queueIds);
  const queued = w.relay.queued().filter((m) => !mine || mine.has(m.queueId));
  const deleted = mine ? w.relay.deleted.filter((id) => mine.has(w.relay.deletedFrom.get(id) ?? '')) : [...w.relay.deleted];
  w.h.ok(ORCH, 'relay.snapshot', { deleted, queued });
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
