import Database from 'better-sqlite3';
import { appendFileSync, existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { SHARED_FILES } from '../../src/device/ipc.js';
import { BROKEN_ENV, type BrokenVariant } from '../broken.js';
import { storeSyncFor } from '../broken-components.js';
import { SIM_ENTRIES } from '../real/entries.js';
import { checkAll, judgeRun, type CheckResult, type InvariantName, type Validity, type Verdict } from '../checkers/index.js';
import { HistoryRecorder, type History } from '../history/index.js';
import { storyOf, toChromeTrace, toHtmlReport, type ReportMeta } from '../report/index.js';
import { checkExpectations, resolveWorld, scaledBudgets, type Scenario } from '../scenario/index.js';
import { Engine } from './engine.js';
import { takeSnapshots } from './snapshot.js';
import { SimWorld } from './world.js';
import { deviceHistory } from './second-device.js';

export interface RunOptions {
  seed?: number;
  /** Base directory for run output (default `runs`). */
  outDir?: string;
  /** How the scenario was named on the command line (scenario file or catalogue name), for replay commands. */
  source?: string;
  /** Progress lines (the CLI shows them on a TTY). */
  onProgress?: (line: string) => void;
  /** Bound on waiting for one failpoint trigger (default 15 000 run ms). */
  triggerTimeoutMs?: number;
  /**
   * Test-only broken protocol variant (sim/broken.ts): the device runs the simulation
   * entries (sim/real), which read it from NSEKIT_BROKEN and wrap the sessions with it.
   */
  broken?: BrokenVariant;
  /**
   * The scenario has no file of its own (a builder's, or JSON built in a test): write it into
   * the run folder as `scenario.json` and name that file in the replay command, so it replays.
   */
  writeScenario?: boolean;
}

export interface RunViolation {
  invariant: InvariantName;
  detail: string;
  replay: string;
}

export interface RunResult {
  scenario: string;
  seed: number;
  /** Every derived parameter (also the first line of the CLI output). */
  params: Record<string, string | number | boolean>;
  valid: Validity;
  /** 0 valid, 1 safety violation, 2 unknown, 3 liveness failure, 4 harness error. */
  exitCode: 0 | 1 | 2 | 3 | 4;
  verdicts: Verdict[];
  violations: RunViolation[];
  /** Failpoints reached, as `name` and `proc:name`. */
  hits: string[];
  /** `expect.hits` entries never reached. */
  missingHits: string[];
  /** The scenario's `expect` (valid / violations / hits) held. */
  expectMet: boolean;
  /** Why not, one line each. */
  expectProblems: string[];
  harnessErrors: string[];
  events: number;
  runDir: string;
  replay: string;
  history: History;
}

/** Floor of the expiry → freeze grace in run ms (see runScenario). */
export const MIN_GRACE_MS = 1_000;

export function paramsLine(p: Record<string, string | number | boolean>): string {
  return Object.entries(p).map(([k, v]) => `${k}=${v}`).join(' ');
}

/** A run's own folder under OUT/<scenario>/ (`<time>-s<seed>-p<pid>[-n]`), and the `latest` link to it. */
export function runDirFor(base: string, name: string, seed: number): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  mkdirSync(join(base, name), { recursive: true });
  // Two runs of one scenario and seed can start in the same millisecond, in one process or
  // two: the folder is claimed with an exclusive mkdir, the later run taking the next suffix.
  let dir = '';
  for (let n = 0; ; n++) {
    dir = join(base, name, `${stamp}-s${seed}-p${process.pid}${n ? `-${n}` : ''}`);
    try {
      mkdirSync(dir);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  const latest = join(base, name, 'latest');
  try {
    rmSync(latest, { force: true });
    symlinkSync(dir.slice(join(base, name).length + 1), latest);
  } catch {
    /* a concurrent run won the link; ours is still on disk */
  }
  return dir;
}

/** msgIds in the store right now (read-only; the processes keep writing). */
function storedIds(sharedDir: string): Set<string> {
  const path = join(sharedDir, SHARED_FILES.db);
  if (!existsSync(path)) return new Set();
  let db: Database.Database | null = null;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 1000');
    return new Set((db.prepare('SELECT msg_id FROM messages').all() as { msg_id: string }[]).map((r) => r.msg_id));
  } catch {
    return new Set();
  } finally {
    db?.close();
  }
}

/** A fresh seed for a run without --seed. */
export function randomSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

/** Everything a run derives from the scenario and the seed (printed as the CLI's first line). */
export function deriveParams(scenario: Scenario, seed: number) {
  const world = resolveWorld(scenario);
  const b = scaledBudgets(world);
  const nseExpiryCallback = world.budgets.nseExpiryCallback !== false;
  // timeFactor compresses iOS time, not our processes' speed: the expiry → freeze grace never goes
  // below MIN_GRACE_MS, or every freeze would land mid-close (a harness artefact, not a race).
  const graceMs = Math.max(MIN_GRACE_MS, b.nseGraceMs);
  // The NSE's own budget timer fires before iOS's (as SimpleX's 30 s timer does); its idle grace is short.
  const timings = { nseBudgetMs: Math.max(1, Math.floor(b.nseMs * 0.8)), nseGraceMs: Math.max(1, Math.floor(2_000 * world.timeFactor)) };
  const params = {
    seed,
    scenario: scenario.name,
    mode: world.mode,
    lockBackend: world.lockBackend,
    senders: world.senders,
    queues: world.queues,
    ...((world.devices ?? 1) > 1 ? { devices: world.devices! } : {}),
    timeFactor: world.timeFactor,
    bgTaskMs: b.bgTaskMs,
    nseMs: b.nseMs,
    nseGraceMs: graceMs,
    nseMemoryMb: b.nseMemoryMb,
    nseExpiryCallback,
    nseOwnBudgetMs: timings.nseBudgetMs,
    nseIdleGraceMs: timings.nseGraceMs,
    convergenceMs: world.convergenceMs,
    steps: scenario.steps.length,
  };
  return { world, budgets: b, graceMs, nseExpiryCallback, timings, params };
}

/**
 * One real-process run: world up, steps, heal + thaw + foreground, bounded
 * wait for delivery, processes stopped, final snapshots, checkers, reports.
 * Never throws for a scenario's outcome; a harness failure is exit code 4.
 */
export async function runScenario(scenario: Scenario, opts: RunOptions = {}): Promise<RunResult> {
  const seed = (opts.seed ?? randomSeed()) >>> 0;
  const { world, budgets: b, graceMs, nseExpiryCallback, timings, params } = deriveParams(scenario, seed);
  const runDir = runDirFor(resolve(opts.outDir ?? 'runs'), scenario.name, seed);
  let source = opts.source ?? `${scenario.name}.json`;
  if (opts.writeScenario) {
    source = join(runDir, 'scenario.json');
    writeFileSync(source, JSON.stringify(scenario, null, 2) + '\n');
  }
  const replay = `nsekit sim ${source} --seed ${seed}${opts.broken ? ` --broken ${opts.broken}` : ''}`;
  const h = new HistoryRecorder({ file: join(runDir, 'history.jsonl') });
  const progress = opts.onProgress ?? (() => {});
  const logLine = (role: string, line: string) => appendFileSync(join(runDir, `${role}.log`), line + '\n');
  const w = new SimWorld(runDir, world, timings, logLine, opts.broken ? { env: { [BROKEN_ENV]: opts.broken }, entries: SIM_ENTRIES, config: storeSyncFor(opts.broken) } : {});
  if (opts.broken) h.info('orchestrator', 'broken-variant', { variant: opts.broken });
  let engine: Engine | null = null;
  /** Every device's engine, device 1's first (`world.devices: 2`: ./second-device.ts). */
  const engines: Engine[] = [];
  const harness: string[] = [];
  let events = 0;
  const off = h.onOp(() => {
    events++;
    if (events % 25 === 0) progress(`${scenario.name} seed=${seed} ops=${events}`);
  });
  h.info('orchestrator', 'run', params);
  try {
    await w.start();
    // Two devices: one engine per device, each recording its ops tagged with its device.
    const nDev = world.devices ?? 1;
    const hOf = (d: number) => (nDev > 1 ? deviceHistory(h, d) : h);
    for (let d = 1; d <= nDev; d++) {
      const e = new Engine(w.view(d), hOf(d), scenario, { ...b, nseGraceMs: graceMs, nseExpiryCallback }, seed, {
        triggerTimeoutMs: opts.triggerTimeoutMs ?? 15_000,
        rssPollMs: 25,
        onStep: (i, of, st) => progress(`${scenario.name} seed=${seed} step ${i + 1}/${of} ${st.do}${st.proc ? ` ${st.proc}` : ''} ops=${events}`),
        ...(nDev > 1 ? { device: d } : {}),
      });
      engines.push(e);
      if (d > 1) engines[0]!.addPeer(e);
    }
    engine = engines[0]!;
    await Promise.all(
      engines.map(async (e, k) => {
        const hd = hOf(k + 1);
        hd.invoke('orchestrator', 'launch', { proc: 'app' });
        const app = await w.view(k + 1).device.launchApp();
        hd.ok('orchestrator', 'launch', { proc: 'app', pid: app.pid });
        await app.waitEvent('wake', {}, { timeoutMs: 20_000 }).catch(() => {});
      }),
    );
    progress(`${scenario.name} seed=${seed} steps`);
    await engine.runSteps();
    harness.push(...engine.harnessErrors);
    // Without the relay's msgIds no-loss and liveness cannot follow the messages: say so loudly.
    const untracked = engines.flatMap((e) => e.sent).filter((m) => m.ok && m.msgId === null).length;
    if (untracked) harness.push(`relay tap: ${untracked} SEND(s) stored without a msgId seen (did the relay's storage API change? see sim/orchestrator/relay-tap.ts)`);

    progress(`${scenario.name} seed=${seed} converging`);
    // The final heal and the convergence cover every device.
    for (const e of engines) e.healAll();
    const from = h.size;
    // The user opens the app, even if it is in front already (as the fast mode's final heal): its
    // wake connects at once, instead of after a reconnect backoff grown during an outage (up to
    // 10 s, longer than the convergence bound). A second activation asks the NSE to yield again.
    await Promise.all(engines.map((e) => e.foreground().catch((err) => harness.push(`final foreground: ${(err as Error).message}`))));
    const lasts = engines.map((e, k) => {
      const login = e.account.finalLogin();
      const app = w.view(k + 1).device.app;
      return app?.alive ? { pid: app.pid, lifecycle: app.lifecycleSent, login } : null;
    });
    // The convergence bound counts from here, once the healed app is in front again (a relaunch
    // after a kill or power cut takes a process start, not protocol time): sim/checkers/liveness.ts.
    h.info('orchestrator', 'converge', { ms: world.convergenceMs });
    await Promise.all(engines.map((e, k) => converge(w.view(k + 1), e, world.convergenceMs, () => lasts[k] === null || appSettled(h.history, from, lasts[k]!))));
    for (const e of engines) e.stop();
    for (let k = 0; k < engines.length; k++) {
      const e = engines[k]!;
      const wd = w.view(k + 1);
      const hd = hOf(k + 1);
      await wd.device.stop();
      hd.info('orchestrator', 'exit', { proc: 'device', note: 'processes shut down for the final snapshot' });
      const mine = h.history.filter((o) => nDev === 1 || o.device === k + 1);
      const shown = mine.filter((o) => o.f === 'notify' && o.type === 'ok').length;
      const placeholders = mine.filter((o) => o.f === 'notify.placeholder').length;
      hd.info('orchestrator', 'notifications.snapshot', { shown, placeholders, sent: e.sent.length });
      takeSnapshots(hd, { sharedDir: wd.device.sharedDir, masterKey: wd.device.masterKey, relayDb: join(runDir, 'relay.db'), sent: e.sent, queueIds: wd.queues.map((q) => q.queueId), syncQueueId: w.syncQueues.get(wd.device) });
    }
  } catch (e) {
    harness.push((e as Error).stack ?? String(e));
    h.info('orchestrator', 'harness-error', { message: (e as Error).message });
  } finally {
    for (const e of engines) e.stop();
    await w.stop();
    off();
  }

  const result = checkAll(h.history, { convergenceMs: world.convergenceMs });
  h.close();
  const hits = [...new Set(engines.flatMap((e) => [...e.observer.hits]))].sort();
  const missingHits = (scenario.expect?.hits ?? []).filter((x) => !hits.includes(x));
  const violations = result.verdicts.flatMap((v) => v.violations.map((x) => ({ invariant: v.invariant, detail: x.detail, replay })));
  const { valid, exitCode } = judgeRun(result, harness, missingHits);
  const expectation = checkExpectations(scenario, h.history, result);
  const expectMet = expectation.ok && harness.length === 0;
  writeReports(runDir, h.history, result, {
    scenario: scenario.name, seed, replay, params, verdict: valid, exitCode,
    story: storyOf(scenario, h.history, result, { harness, ...(opts.broken ? { broken: opts.broken } : {}) }),
  });
  return {
    scenario: scenario.name,
    seed,
    params,
    valid,
    exitCode,
    verdicts: result.verdicts,
    violations,
    hits,
    missingHits,
    expectMet,
    expectProblems: [...expectation.problems, ...harness.map((x) => `harness: ${x.split('\n')[0]}`)],
    harnessErrors: harness,
    events: h.size,
    runDir,
    replay,
    history: h.history,
  };
}

/**
 * The app finished the wake of the final heal — of its last `active` command (the wake names it:
 * `lifecycle`), or of the final login — logged in: what it fetched and imported is counted (the
 * badge), as after the fast mode's whole convergence time. A wake that failed (a socket closing
 * under it) is retried by the app: then a later successful wake settles it. Stopping at the first
 * stored copy instead would shut the app down in the middle of that wake.
 */
function appSettled(history: History, from: number, last: { pid: number; lifecycle: number; login: boolean }): boolean {
  let answered = false;
  // The wake that answers the final heal: the login's (it runs after the foreground's), else the last `active`'s.
  const isTarget = (v: { reason?: unknown; where?: unknown; lifecycle?: unknown }) =>
    last.login ? v.reason === 'login' || v.where === 'wake login' : typeof v.lifecycle === 'number' && v.lifecycle >= last.lifecycle;
  for (let i = Math.min(from, history.length); i < history.length; i++) {
    const op = history[i]!;
    if (op.proc !== 'app' || op.pid !== last.pid) continue;
    const v = (op.value ?? {}) as { reason?: unknown; where?: unknown; lifecycle?: unknown; loggedOut?: unknown };
    if (op.f === 'ev.wake' && v.loggedOut !== true && (answered || isTarget(v))) return true;
    if (op.f === 'ev.error' && typeof v.where === 'string' && v.where.startsWith('wake') && isTarget(v)) answered = true;
  }
  return false;
}

/** Every sent message in the store and the app settled, or the convergence bound passed. Re-checked on each device event. */
async function converge(w: SimWorld, engine: Engine, boundMs: number, settled: () => boolean): Promise<void> {
  const want = engine.sent.map((m) => m.msgId).filter((x): x is string => x !== null);
  const all = () => {
    if (!settled()) return false;
    const have = storedIds(w.device.sharedDir);
    return want.every((id) => have.has(id));
  };
  if (all()) return;
  await new Promise<void>((resolve) => {
    let finished = false;
    const done = () => {
      finished = true;
      clearTimeout(t);
      w.device.off('event', on);
      resolve();
    };
    const on = (_r: string, e: { name: string }) => {
      // Checked once the recorder has the event too (listener order is not ours to rely on).
      if (e.name === 'stored' || e.name === 'imported' || e.name === 'wake' || e.name === 'sync') setImmediate(() => !finished && all() && done());
    };
    const t = setTimeout(done, boundMs);
    w.device.on('event', on);
  });
}

function writeReports(dir: string, history: History, r: CheckResult, meta: ReportMeta): void {
  try {
    writeFileSync(join(dir, 'trace.json'), JSON.stringify(toChromeTrace(history, r.verdicts)));
    // Each process's log sits next to the report: linked from its header.
    const logs = readdirSync(dir).filter((f) => f.endsWith('.log')).sort();
    writeFileSync(join(dir, 'report.html'), toHtmlReport(history, r, { ...meta, mode: 'real', logs }));
    writeFileSync(join(dir, 'verdict.json'), JSON.stringify({ valid: r.valid, exitCode: r.exitCode, verdicts: r.verdicts }, null, 1));
  } catch (e) {
    writeFileSync(join(dir, 'report-error.txt'), String((e as Error).stack ?? e));
  }
}
