/**
 * Conformance transcripts from the simulator: run a catalogue scenario in fast mode with one
 * process — the NSE (./bridged-nse.ts) or the app (./bridged-app.ts) — replaced by its bridge
 * bundle, the other staying the shipping session, and write what that process did as a
 * conformance transcript (ios-bridge/conformance, the format runner.js replays in Node and in a
 * bare jsc realm): every host call with the reply the world gave, every timer, every facade call
 * the device made and its result, and (the app) the relay's SUB deliveries and dropped connections
 * as host steps. Same scenario, same seed, same bundle → the same transcript, byte for byte; a
 * change in the sessions shows up as a diff.
 *
 *   nsekit transcript <scenario|catalogue-name> [--seed N] [--role nse|app] [--out FILE]   (docs/ios-porting.md §6)
 */
import { type App, type NseService, type SessionEventName } from '../../src/core/session/index.js';
import type { BrokenVariant } from '../broken.js';
import type { SessionComponents } from '../../src/core/session/index.js';
import { runFast, type FastResult } from '../fast/run.js';
import type { SimProc } from '../fast/proc.js';
import { FastWorld } from '../fast/world.js';
import type { Scenario, World } from '../scenario/index.js';
import { BridgedApp } from './bridged-app.js';
import { BridgedNse } from './bridged-nse.js';
import { loadBundle, type LoadedBundle } from './bridged-core.js';
import type { TranscriptEvent, TranscriptStep } from './record-loop.js';

export type BridgeRole = 'nse' | 'app';

/** A fast world whose `role` instances run the bridge bundle. */
export class BridgeWorld extends FastWorld {
  readonly bridged: (BridgedNse | BridgedApp)[] = [];
  constructor(
    private readonly role: BridgeRole,
    private readonly bundle: () => LoadedBundle,
    world: World,
    seed: number,
    broken?: BrokenVariant,
    components?: SessionComponents,
  ) {
    super(world, seed, broken, components);
  }
  protected override makeNse(p: SimProc, emit: (name: SessionEventName, fields: Record<string, unknown>) => void): NseService {
    if (this.role !== 'nse') return super.makeNse(p, emit);
    const b = new BridgedNse(this, p, this.bundle(), emit);
    this.bridged.push(b);
    // It answers the calls the world makes on an NseService (push, lifecycle, setAppActive, yieldToApp, expire).
    return b as unknown as NseService;
  }
  protected override makeApp(p: SimProc): App {
    if (this.role !== 'app') return super.makeApp(p);
    const b = new BridgedApp(this, p, this.bundle());
    this.bridged.push(b);
    // It answers the calls the world makes on an App (onLifecycle, send, onWindow, onSettings, logout, login).
    return b as unknown as App;
  }
}

export interface SimTranscript {
  name: string;
  description: string;
  /** Where it came from: re-recorded by `nsekit transcript` (node-runner.ts --record leaves it alone). */
  sim: { scenario: string; seed: number; role: BridgeRole; mode: 'fast'; command: string };
  config: Record<string, unknown>;
  world: Record<string, never>;
  steps: TranscriptStep[];
  expected: TranscriptEvent[];
}

export interface RecordResult {
  transcript: SimTranscript | null;
  /** Why no transcript (or why it would not replay). Empty when `transcript` is good. */
  problems: string[];
  /** The fast run itself (its verdicts judge a history whose `role` is the bridge). */
  run: FastResult;
}

/** Virtual ms the process gets after the run to finish what it started (grace, suspension). */
const SETTLE_MS = 120_000;

const WHO: Record<BridgeRole, { name: string; other: string; services: string }> = {
  nse: { name: 'the NSE', other: 'the app is the shipping App session', services: "the fast world's lock, store, pending inbox and relay" },
  app: { name: 'the app', other: 'the NSE is the shipping NSE session', services: "the fast world's lock, store (cursors, outbox), pending inbox, relay connection and status endpoint" },
};

export async function recordTranscript(scenario: Scenario, seed: number, opts: { bundle: string; role?: BridgeRole }): Promise<RecordResult> {
  const role = opts.role ?? 'nse';
  const who = WHO[role];
  let w: BridgeWorld | null = null;
  let loaded: LoadedBundle | null = null;
  const run = await runFast(scenario, seed, {
    world: (world, s, broken, components) => (w = new BridgeWorld(role, () => (loaded ??= loadBundle(opts.bundle)), world, s, broken, components)),
  });
  const world = w as BridgeWorld | null;
  const problems: string[] = [];
  if (!world || world.bridged.length === 0) return { transcript: null, problems: [`the scenario never launched ${who.name}`], run };
  if (world.bridged.length > 1) problems.push(`${who.name} was launched ${world.bridged.length} times (killed and relaunched): each launch is its own createCore; record a scenario with one`);
  const b = world.bridged[0]!;
  const p = (role === 'nse' ? world.nse : world.app)?.p;
  if (p && !p.alive && world.bridged.length === 1) problems.push(`${who.name} was killed: its last calls have no answer and the runner has no kill`);
  const quiet = (): boolean => {
    const o = b.loop.outstanding();
    return o.timers === 0 && o.replies === 0 && o.calls === 0;
  };
  // A process frozen after it suspended keeps its timers; the runner has no freezing and fires them, so
  // let it run them (on time if they are not overdue yet: RecordLoop reports a late one).
  if (!quiet() && p?.alive && p.frozen) world.thaw(role, 'transcript-settle');
  // The app ends the run in front, subscribed and pinging: the user leaves it and its background task expires.
  if (b instanceof BridgedApp && p?.alive) b.leave();
  if (!quiet()) await world.sched.run({ untilMs: world.sched.now + SETTLE_MS, maxSteps: 200_000, stop: quiet });
  const o = b.loop.outstanding();
  if (!quiet()) problems.push(`${who.name} is not quiescent at the end (${o.timers} timers, ${o.replies} replies, ${o.calls} calls pending${p?.frozen ? ', frozen' : ''})`);
  if (b instanceof BridgedApp) problems.push(...b.refusals());
  problems.push(...b.loop.problems);
  const transcript: SimTranscript = {
    name: `sim-${scenario.name}-${role}`,
    description:
      `Recorded from the simulator (sim/bridge/record-transcript.ts): catalogue scenario ${scenario.name}, seed ${seed}, fast mode, ` +
      `${who.name} running the bridge bundle on a host over ${who.services}; ${who.other}. ` +
      `Scenario: ${scenario.description ?? ''}`,
    sim: { scenario: scenario.name, seed, role, mode: 'fast', command: `nsekit transcript ${scenario.name} --seed ${seed} --role ${role}` },
    config: b.config,
    world: {},
    steps: b.loop.steps,
    expected: b.loop.events,
  };
  return { transcript, problems, run };
}

/** The transcript file's text (the conformance files' layout: node-runner.ts --record writes the same). */
export function transcriptJson(t: SimTranscript): string {
  return JSON.stringify(t, null, 1) + '\n';
}
