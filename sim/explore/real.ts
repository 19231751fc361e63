/**
 * Real-process runs for `nsekit explore --mode real|--compare`: each run is
 * `nsekit sim FILE --seed S --json --mode real` (sim/orchestrator's runner) in
 * a child process that leads its own process group, so the app and NSE
 * processes it spawns are in that group too. A run is bounded in time (the
 * whole group is SIGKILLed when the bound passes) and the group is SIGKILLed
 * after every run, whatever its outcome, so no process outlives it; `killAll`
 * does the same for every live run (SIGINT). At most `concurrency` runs at a
 * time; waiting runs start in priority order (confirmation runs first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BrokenVariant } from '../broken.js';
import type { Scenario } from '../scenario/index.js';
import { DEFAULT_TRIGGER_TIMEOUT_MS } from '../cli/sim.js';

const BIN = fileURLToPath(new URL('../../bin/nsekit.js', import.meta.url));

/** Trigger bound explore gives each real run (`nsekit sim` alone waits 15 s). */
export const EXPLORE_TRIGGER_TIMEOUT_MS = 5_000;

/** A step the run gave up (trigger never reached, or the verb failed): history `step` fail. */
export interface GivenUp {
  i: number;
  do?: string;
  code?: string;
  error: string;
}

export interface RealRun {
  /** `unknown`: a harness error (trigger never fired, the world failed, the run timed out or crashed). */
  valid: true | false | 'unknown';
  /** Violated invariants, sorted, unique. */
  invariants: string[];
  violations: { invariant: string; detail: string }[];
  /** `nsekit sim` exit code (null: killed). */
  exitCode: number | null;
  /** HARNESS lines (first line of each), plus the explore runner's own (timeout, crash). */
  harness: string[];
  /** Steps given up, from the run's history. */
  givenUp: GivenUp[];
  runDir: string | null;
  seconds: number;
  timedOut: boolean;
  /** Never started or cut short by killAll. */
  aborted: boolean;
  replay: string;
}

/** `nsekit sim FILE --seed S --mode real` (+ the trigger bound when it is not sim's default). */
export function realReplay(file: string, seed: number, triggerTimeoutMs = DEFAULT_TRIGGER_TIMEOUT_MS, broken?: BrokenVariant): string {
  return `nsekit sim ${file} --seed ${seed} --mode real${triggerTimeoutMs !== DEFAULT_TRIGGER_TIMEOUT_MS ? ` --trigger-timeout-ms ${triggerTimeoutMs}` : ''}${broken ? ` --broken ${broken}` : ''}`;
}

/**
 * Wall-clock bound for one real run: 60 s for start-up, convergence and shutdown, plus the
 * trigger bound for each failpoint-triggered step and every `wait`.
 */
export function defaultRunTimeoutMs(s: Scenario, triggerTimeoutMs: number): number {
  let ms = 60_000;
  for (const st of s.steps) {
    const w = st.when as { at?: string; at_ms?: number } | undefined;
    if (w?.at !== undefined) ms += triggerTimeoutMs;
    if (w?.at_ms !== undefined) ms += w.at_ms;
    if (st.do === 'wait') ms += Number((st.args as { ms?: number } | undefined)?.ms ?? 0);
  }
  return ms;
}

export interface RealRunnerOptions {
  concurrency: number;
  /** Where `nsekit sim` writes its run directories (`--out`). */
  runsDir: string;
  triggerTimeoutMs: number;
  broken?: BrokenVariant;
}

interface Live {
  child: ChildProcess;
  exited: Promise<void>;
}

export class RealRunner {
  private active = 0;
  private readonly waiting: { prio: number; seq: number; go: (ok: boolean) => void }[] = [];
  private seq = 0;
  private readonly live = new Set<Live>();
  private aborted = false;
  /** Process group ids of every run started (each child leads its own group). */
  readonly pgids: number[] = [];

  constructor(readonly opts: RealRunnerOptions) {}

  get isAborted(): boolean {
    return this.aborted;
  }

  private acquire(prio: number): Promise<boolean> {
    if (this.aborted) return Promise.resolve(false);
    if (this.active < Math.max(1, this.opts.concurrency)) {
      this.active++;
      return Promise.resolve(true);
    }
    return new Promise((go) => {
      this.waiting.push({ prio, seq: this.seq++, go });
      this.waiting.sort((a, b) => b.prio - a.prio || a.seq - b.seq);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next.go(true); // the slot passes on
    else this.active--;
  }

  /** One real run of the scenario in `file`. `prio` > 0 jumps the queue. Never throws. */
  async run(file: string, seed: number, timeoutMs: number, prio = 0): Promise<RealRun> {
    const replay = realReplay(file, seed, this.opts.triggerTimeoutMs, this.opts.broken);
    const none = (why: string): RealRun => ({
      valid: 'unknown', invariants: [], violations: [], exitCode: null, harness: [why], givenUp: [], runDir: null, seconds: 0, timedOut: false, aborted: true, replay,
    });
    if (!(await this.acquire(prio))) return none('interrupted before it started');
    try {
      if (this.aborted) return none('interrupted before it started');
      return await this.spawnRun(file, seed, timeoutMs, replay);
    } finally {
      this.release();
    }
  }

  private async spawnRun(file: string, seed: number, timeoutMs: number, replay: string): Promise<RealRun> {
    const args = [BIN, 'sim', file, '--seed', String(seed), '--json', '--out', this.opts.runsDir, '--trigger-timeout-ms', String(this.opts.triggerTimeoutMs)];
    if (this.opts.broken) args.push('--broken', this.opts.broken);
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
    let code: number | null = null;
    const exited = new Promise<void>((resolve) => {
      child.once('close', (c) => {
        code = c;
        resolve();
      });
      child.once('error', (e) => {
        stderr += String(e);
        resolve();
      });
    });
    const live: Live = { child, exited };
    this.live.add(live);
    if (child.pid !== undefined) this.pgids.push(child.pid);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child);
    }, timeoutMs);
    try {
      await exited;
    } finally {
      clearTimeout(timer);
      // The run is over: nothing of its group may stay (an NSE a crashed orchestrator left behind).
      killGroup(child);
      this.live.delete(live);
    }
    const seconds = (performance.now() - t0) / 1000;
    return parseRun(stdout, stderr, code, { seconds, timedOut, aborted: this.aborted && !timedOut && code === null, replay, timeoutMs });
  }

  /** Stop: no new run starts, every live run's process group is SIGKILLed and waited for. */
  async killAll(): Promise<void> {
    this.aborted = true;
    for (const w of this.waiting.splice(0)) w.go(false);
    const live = [...this.live];
    for (const l of live) killGroup(l.child);
    await Promise.all(live.map((l) => l.exited));
  }
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    /* ESRCH: the group is gone */
  }
}

function parseRun(stdout: string, stderr: string, code: number | null, m: { seconds: number; timedOut: boolean; aborted: boolean; replay: string; timeoutMs: number }): RealRun {
  const lines = stdout.split('\n').filter(Boolean);
  let j: { valid?: unknown; violations?: { invariant: string; detail: string }[]; runDir?: string; harness?: string[]; error?: string } | null = null;
  for (let k = lines.length - 1; k >= 0 && !j; k--) {
    try {
      const x = JSON.parse(lines[k]!);
      if (x && typeof x === 'object' && 'valid' in x) j = x;
    } catch {
      /* not the JSON line */
    }
  }
  const harness: string[] = [];
  if (m.timedOut) harness.push(`explore: run killed after ${Math.round(m.timeoutMs / 1000)} s (--run-timeout-s)`);
  if (m.aborted) harness.push('explore: run interrupted');
  if (!j) {
    if (!m.timedOut && !m.aborted) harness.push(`explore: nsekit sim exited ${code} without a verdict: ${stderr.trim().split('\n').slice(-3).join(' | ')}`);
    return { valid: 'unknown', invariants: [], violations: [], exitCode: code, harness, givenUp: [], runDir: null, seconds: m.seconds, timedOut: m.timedOut, aborted: m.aborted, replay: m.replay };
  }
  if (j.error) harness.push(String(j.error));
  // `step 3 (send): SIM_TRIGGER_TIMEOUT: SIM_TRIGGER_TIMEOUT: failpoint …`: the code once is enough.
  harness.push(...(j.harness ?? []).map((x) => x.replace(/\b([A-Z][A-Z0-9_]+): \1: /g, '$1: ')));
  const violations = (j.violations ?? []).map((v) => ({ invariant: v.invariant, detail: v.detail }));
  const runDir = typeof j.runDir === 'string' ? j.runDir : null;
  const valid = j.valid === true || j.valid === false ? j.valid : 'unknown';
  return {
    valid: m.timedOut || m.aborted ? 'unknown' : valid,
    invariants: [...new Set(violations.map((v) => v.invariant))].sort(),
    violations,
    exitCode: code,
    harness,
    givenUp: runDir ? givenUpSteps(runDir) : [],
    runDir,
    seconds: m.seconds,
    timedOut: m.timedOut,
    aborted: m.aborted,
    replay: m.replay,
  };
}

/** Steps a real run gave up, read from its history.jsonl. */
function givenUpSteps(runDir: string): GivenUp[] {
  const f = `${runDir}/history.jsonl`;
  if (!existsSync(f)) return [];
  const out: GivenUp[] = [];
  for (const line of readFileSync(f, 'utf8').split('\n')) {
    if (!line.includes('"f":"step"') || !line.includes('"type":"fail"')) continue;
    try {
      const op = JSON.parse(line) as { value?: { i?: number; do?: string; code?: string }; error?: string };
      if (typeof op.value?.i === 'number') out.push({ i: op.value.i, ...(op.value.do ? { do: op.value.do } : {}), ...(op.value.code ? { code: op.value.code } : {}), error: op.error ?? '' });
    } catch {
      /* a torn last line */
    }
  }
  return out;
}
