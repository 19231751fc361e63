/**
 * Conformance transcripts from the simulator: run a catalogue scenario in fast mode with the NSE
 * replaced by the bridge bundle's NSE (./bridged-nse.ts) — the app stays the shipping App
 * session — and write what that NSE did as a conformance transcript (ios-bridge/conformance,
 * the format runner.js replays in Node and in a bare jsc realm): every host call with the reply
 * the world gave, every timer, every facade call the device made and its result. Same scenario,
 * same seed, same bundle → the same transcript, byte for byte; a change in the sessions shows up
 * as a diff. Per role: the NSE's transcript of a scenario (the app is not recorded).
 *
 *   nsekit transcript <scenario|catalogue-name> [--seed N] [--role nse] [--out FILE]   (docs/ios-porting.md §6)
 */
import { type NseService, type SessionEventName } from '../../src/core/session/index.js';
import type { BrokenVariant } from '../broken.js';
import type { SessionComponents } from '../../src/core/session/index.js';
import { runFast, type FastResult } from '../fast/run.js';
import type { SimProc } from '../fast/proc.js';
import { FastWorld } from '../fast/world.js';
import type { Scenario, World } from '../scenario/index.js';
import { BridgedNse, loadBundle, type LoadedBundle } from './bridged-nse.js';
import type { TranscriptEvent, TranscriptStep } from './record-loop.js';

/** A fast world whose NSE instances run the bridge bundle. */
export class BridgeWorld extends FastWorld {
  readonly bridged: BridgedNse[] = [];
  constructor(
    private readonly bundle: () => LoadedBundle,
    world: World,
    seed: number,
    broken?: BrokenVariant,
    components?: SessionComponents,
  ) {
    super(world, seed, broken, components);
  }
  protected override makeNse(p: SimProc, emit: (name: SessionEventName, fields: Record<string, unknown>) => void): NseService {
    const b = new BridgedNse(this, p, this.bundle(), emit);
    this.bridged.push(b);
    // It answers the calls the world makes on an NseService (push, lifecycle, setAppActive, yieldToApp, expire).
    return b as unknown as NseService;
  }
}

export interface SimTranscript {
  name: string;
  description: string;
  /** Where it came from: re-recorded by `nsekit transcript` (node-runner.ts --record leaves it alone). */
  sim: { scenario: string; seed: number; role: 'nse'; mode: 'fast'; command: string };
  config: Record<string, unknown>;
  world: Record<string, never>;
  steps: TranscriptStep[];
  expected: TranscriptEvent[];
}

export interface RecordResult {
  transcript: SimTranscript | null;
  /** Why no transcript (or why it would not replay). Empty when `transcript` is good. */
  problems: string[];
  /** The fast run itself (its verdicts judge a history whose NSE is the bridge). */
  run: FastResult;
}

/** Virtual ms the NSE gets after the run to finish what it started (grace, suspension). */
const SETTLE_MS = 120_000;

export async function recordTranscript(scenario: Scenario, seed: number, opts: { bundle: string; role?: 'nse' }): Promise<RecordResult> {
  if ((opts.role ?? 'nse') !== 'nse') throw new Error('only the NSE role is recorded (the app runs as the shipping session)');
  let w: BridgeWorld | null = null;
  let loaded: LoadedBundle | null = null;
  const run = await runFast(scenario, seed, {
    world: (world, s, broken, components) => (w = new BridgeWorld(() => (loaded ??= loadBundle(opts.bundle)), world, s, broken, components)),
  });
  const world = w as BridgeWorld | null;
  const problems: string[] = [];
  if (!world || world.bridged.length === 0) return { transcript: null, problems: ['the scenario never launched the NSE'], run };
  if (world.bridged.length > 1) problems.push(`the NSE was launched ${world.bridged.length} times (killed and relaunched): each launch is its own createCore; record a scenario with one`);
  const nse = world.bridged[0]!;
  const p = world.nse?.p;
  if (p && !p.alive && world.bridged.length === 1) problems.push('the NSE was killed: its last calls have no answer and the runner has no kill');
  // Let it finish what it started (a grace timer, a suspension): the runner would fire those too.
  const quiet = (): boolean => {
    const o = nse.loop.outstanding();
    return o.timers === 0 && o.replies === 0 && o.calls === 0;
  };
  // A process frozen after it suspended keeps its timers; the runner has no freezing and fires them, so
  // let the NSE run them (on time if they are not overdue yet: RecordLoop reports a late one).
  if (!quiet() && p?.alive && p.frozen) world.thaw('nse', 'transcript-settle');
  if (!quiet()) await world.sched.run({ untilMs: world.sched.now + SETTLE_MS, maxSteps: 200_000, stop: quiet });
  const o = nse.loop.outstanding();
  if (!quiet()) problems.push(`the NSE is not quiescent at the end (${o.timers} timers, ${o.replies} replies, ${o.calls} calls pending${p?.frozen ? ', frozen' : ''})`);
  problems.push(...nse.loop.problems);
  const name = `sim-${scenario.name}-nse`;
  const transcript: SimTranscript = {
    name,
    description:
      `Recorded from the simulator (sim/bridge/record-transcript.ts): catalogue scenario ${scenario.name}, seed ${seed}, fast mode, ` +
      `the NSE running the bridge bundle on a host over the fast world's lock, store, pending inbox and relay; the app is the shipping App session. ` +
      `Scenario: ${scenario.description ?? ''}`,
    sim: { scenario: scenario.name, seed, role: 'nse', mode: 'fast', command: `nsekit transcript ${scenario.name} --seed ${seed} --role nse` },
    config: nse.config,
    world: {},
    steps: nse.loop.steps,
    expected: nse.loop.events,
  };
  return { transcript, problems, run };
}

/** The transcript file's text (the conformance files' layout: node-runner.ts --record writes the same). */
export function transcriptJson(t: SimTranscript): string {
  return JSON.stringify(t, null, 1) + '\n';
}
