import { ErrorCodes, NsekitError } from '../../src/core/errors.js';
import type { BrokenVariant } from '../broken.js';
import type { InvariantName } from '../checkers/types.js';
import type { FailpointName } from './failpoints.js';
import type { DeviceProc, HitMark, PhaseName, Scenario, SendArgs, Step, Trigger, Verb, World } from './types.js';
import { parseScenario } from './validate.js';

type WorldInput = Partial<Omit<World, 'budgets'>> & { budgets?: Partial<World['budgets']> };

/**
 * Typed builder producing the same JSON as a scenario file. A trigger
 * (`when`, `atMs`, `after`) applies to the next step; `as`/`note` decorate the
 * last one. `build()` validates against the schema and throws SCENARIO_INVALID.
 *
 *   scenario('nse-frozen-with-lock').background('app')
 *     .when('nse', 'lock.acquired').freeze('nse').send({ count: 3 })
 *     .thaw('nse').foreground('app').expectValid().build()
 */
export class ScenarioBuilder {
  private readonly s: Scenario;
  private pending: Trigger | undefined;
  private variant: BrokenVariant | undefined;
  private concurrentNext = false;

  constructor(name: string) {
    this.s = { name, steps: [] };
  }

  describe(text: string): this {
    this.s.description = text;
    return this;
  }
  world(w: WorldInput): this {
    const prev = this.s.world ?? {};
    this.s.world = { ...prev, ...w, ...(w.budgets || prev.budgets ? { budgets: { ...(prev.budgets ?? {}), ...(w.budgets ?? {}) } } : {}) };
    return this;
  }

  /** The next step runs when `proc` reaches failpoint `at` (its nth hit). */
  when(proc: DeviceProc, at: FailpointName, nth?: number): this {
    this.pending = nth === undefined ? { proc, at } : { proc, at, nth };
    return this;
  }
  /**
   * The next step runs when `proc` enters `phase` (its nth entry into that phase): the
   * trigger `{proc, at: 'phase.enter', phase}`. The process is held at that entry.
   */
  whenPhase(proc: DeviceProc, phase: PhaseName, nth?: number): this {
    this.pending = nth === undefined ? { proc, at: 'phase.enter', phase } : { proc, at: 'phase.enter', phase, nth };
    return this;
  }
  /** The next step runs at this run time (ms since start). */
  atMs(ms: number): this {
    this.pending = { at_ms: ms };
    return this;
  }
  /** The next step runs right after the step named `id`. */
  after(id: string): this {
    this.pending = { after: id };
    return this;
  }
  /**
   * The next step starts without waiting for the steps before it to finish (`concurrent: true`):
   * `.foreground().meanwhile().when('nse', 'net.ack.sent').freeze('nse')` acts while the
   * foreground still waits for the NSE to yield.
   */
  meanwhile(): this {
    this.concurrentNext = true;
    return this;
  }
  /** Names the last step (for `after`). */
  as(id: string): this {
    this.last('as').id = id;
    return this;
  }
  note(text: string): this {
    this.last('note').note = text;
    return this;
  }
  /**
   * The last step acts on device `n` (`world.devices: 2`, docs/scenarios.md "A second device"),
   * and so does its failpoint trigger if it has one. A race across the devices (a trigger on one,
   * the verb on the other) is written with `device` in the JSON.
   */
  onDevice(n: 1 | 2): this {
    const st = this.last('onDevice');
    st.device = n;
    if (st.when && 'proc' in st.when) st.when = { ...st.when, device: n };
    return this;
  }

  freeze(proc: DeviceProc): this { return this.step('freeze', proc); }
  thaw(proc: DeviceProc): this { return this.step('thaw', proc); }
  kill(proc: DeviceProc): this { return this.step('kill', proc); }
  foreground(proc: 'app' = 'app'): this { return this.step('foreground', proc); }
  background(proc: 'app' = 'app'): this { return this.step('background', proc); }
  expire(proc: DeviceProc): this { return this.step('expire', proc); }
  lockDevice(): this { return this.step('lock-device'); }
  unlockDevice(): this { return this.step('unlock-device'); }
  send(args: SendArgs = {}): this { return this.step('send', undefined, { ...args }); }
  push(args: { queue?: number } = {}): this { return this.step('push', undefined, { ...args }); }
  partition(): this { return this.step('partition'); }
  heal(): this { return this.step('heal'); }
  restartRelay(): this { return this.step('restart-relay'); }
  /** The phone loses power: both processes die, store commits not yet synced are gone. */
  powerCut(): this { return this.step('power-cut'); }
  delayPush(ms: number): this { return this.step('delay-push', undefined, { ms }); }
  /** Hold `proc` at the failpoint of the pending `when` until `resume(proc)`. */
  pause(proc: DeviceProc): this { return this.step('pause', proc); }
  /** Shorthand for `.when(proc, at, nth).pause(proc)`. */
  pauseAt(proc: DeviceProc, at: FailpointName, nth?: number): this { return this.when(proc, at, nth).pause(proc); }
  resume(proc: DeviceProc): this { return this.step('resume', proc); }
  wait(ms: number): this { return this.step('wait', undefined, { ms }); }

  expectValid(hits: HitMark[] = []): this {
    this.s.expect = { ...(this.s.expect ?? {}), valid: true, ...(hits.length ? { hits } : {}) };
    return this;
  }
  expectHits(...hits: HitMark[]): this {
    this.s.expect = { ...(this.s.expect ?? {}), hits: [...(this.s.expect?.hits ?? []), ...hits] };
    return this;
  }
  expectViolations(...invariants: InvariantName[]): this {
    this.s.expect = { ...(this.s.expect ?? {}), valid: false, violations: invariants };
    return this;
  }

  /**
   * Run it against a deliberately broken protocol variant (sim/broken.ts), as `--broken`:
   * a property of the run, not of the scenario, so it is not in the JSON; `runScenario`
   * (sim/vitest.ts) reads it and its replay command keeps the flag.
   */
  broken(variant: BrokenVariant): this {
    this.variant = variant;
    return this;
  }
  /** The variant set by `broken()`, if any. */
  get brokenVariant(): BrokenVariant | undefined {
    return this.variant;
  }

  /** The scenario as plain JSON, validated (throws NsekitError SCENARIO_INVALID). */
  build(): Scenario {
    return parseScenario(JSON.parse(JSON.stringify(this.s)), `scenario '${this.s.name}' (builder)`);
  }
  toJSON(): Scenario {
    return this.build();
  }

  private step(verb: Verb, proc?: DeviceProc, args?: Record<string, unknown>): this {
    const st: Step = { do: verb };
    if (this.pending) st.when = this.pending;
    if (proc) st.proc = proc;
    if (args && Object.keys(args).length) st.args = args;
    if (this.concurrentNext) st.concurrent = true;
    this.pending = undefined;
    this.concurrentNext = false;
    this.s.steps.push(st);
    return this;
  }
  private last(what: string): Step {
    const st = this.s.steps[this.s.steps.length - 1];
    if (!st) throw new NsekitError(ErrorCodes.SCENARIO_INVALID, `${what}() needs a step before it`);
    return st;
  }
}

export function scenario(name: string): ScenarioBuilder {
  return new ScenarioBuilder(name);
}
