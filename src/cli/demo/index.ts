import { World } from '../world.js';
import { silentLog, stderrLog } from '../../node/host.js';
import { Chaos, type ChaosCounts } from './chaos.js';
import { readOtherDevices, settleOtherDevices, startOtherDevices } from './devices.js';
import { Prng } from './prng.js';
import { readBack, report, type DemoResult, type OtherDevice, type StoreReadback } from './report.js';
import { foreground, walk } from './stages.js';
import { Tracker } from './tracker.js';
import type { UserDevices } from '../user-devices.js';

export type { DemoResult } from './report.js';
export type { ChaosCounts } from './chaos.js';
export { runDemoCli, DEMO_USAGE } from './cli.js';

export interface DemoOptions {
  verbose?: boolean;
  out?: (line: string) => void;
  /** Run the chaos loop (docs/cli.md, `nsekit demo --chaos`) for `minutes`, seeded by `seed`. */
  chaos?: { minutes: number; seed: number };
  /** Devices of the one user (default 1): every message goes to each (a fan-out), counted per device. */
  devices?: number;
}

/** How long the demo waits for a stage's messages, and at the end for everything to be in the store. */
const STAGE_WAIT_MS = 20_000;
const CHAOS_STAGE_WAIT_MS = 8_000;
const SETTLE_MS = 60_000;
/** Starting the relay, the gateway and the device (bundling the entries) is bounded too. */
const START_MS = 60_000;

/**
 * `nsekit demo`: relay + push gateway + a sender + one device. Messages are sent while the
 * device goes foreground → background → frozen → locked → unlocked → foreground; then the
 * shared store is read back and every message is accounted for (where it arrived, whether
 * it was notified). With `chaos`, that walk repeats while the chaos loop stops, kills and
 * locks out the processes; it ends by healing everything before the same accounting.
 * Whatever goes wrong, it ends with the table and a verdict line (OK or … FAIL).
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult & { chaos?: ChaosCounts }> {
  const out = opts.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const w = new World({
    queues: 2,
    mode: 'instant',
    // The app writes a message of its own in the background stages (its outbox, its own queue).
    appCanSend: true,
    procConfig: { nseGraceMs: 500, logLevel: opts.verbose ? 'info' : 'warn' },
    procOpts: { stderr: opts.verbose ? 'inherit' : 'ignore' },
    log: opts.verbose ? stderrLog('demo') : silentLog,
  });
  let t = new Tracker(w, out);
  let user: UserDevices | null = null;
  let others: OtherDevice[] = [];
  let chaos: Chaos | null = null;
  let problem: string | undefined;
  let back: StoreReadback | null = null;
  try {
    await bounded(w.start(), START_MS, 'starting the relay, push gateway and device');
    out(`demo: relay ${w.relay.url}  push gateway ${w.gateway.url}  shared dir ${w.device.sharedDir}`);
    if ((opts.devices ?? 1) > 1) {
      out(`-- ${opts.devices} devices of one user: each message is one fan-out (GSEND) into every device's queue; device 1 walks, the others stay frozen in the background`);
      user = await bounded(startOtherDevices(w, opts.devices! - 1, STAGE_WAIT_MS, out), START_MS, 'starting the other devices');
      t = new Tracker(w, out, user);
    }
    if (!opts.chaos) {
      await walk(t, { narrate: true, waitMs: STAGE_WAIT_MS, background: true });
    } else {
      const { minutes, seed } = opts.chaos;
      chaos = new Chaos(w.device, new Prng(seed), opts.verbose ? out : undefined);
      out(`-- chaos for ${minutes} min, seed ${seed}: the device walks foreground → background → frozen → locked → unlocked, round after round`);
      await foreground(t, CHAOS_STAGE_WAIT_MS); // the app is launched before anything is stopped or killed
      chaos.start();
      const end = Date.now() + minutes * 60_000;
      let round = 0;
      while (Date.now() < end) await walk(t, { narrate: false, waitMs: CHAOS_STAGE_WAIT_MS, prefix: `r${++round} ` });
      await chaos.stop();
      out(`   ${round} rounds, ${t.sent.length} messages sent; ${chaos.summary()}`);
      out(`   stage waits that ran out (arrived later or named below): ${t.late.length}`);
      out('-- healing: every process continued, device unlocked, app brought to the front (relaunched if killed)');
      await heal(t);
    }
    // Everything the device got must end up in the store: wait (bounded) for late arrivals and imports.
    const settled = await t.until(() => t.sent.every((s) => t.home(s)), SETTLE_MS);
    if (!settled) out(`   not all in the store after ${SETTLE_MS / 1000} s; reading the store anyway`);
    if (user) {
      out('-- the other devices come to the front: each must hold every message once');
      if (!(await settleOtherDevices(user, t, SETTLE_MS))) out(`   not all on the other devices after ${SETTLE_MS / 1000} s; reading their stores anyway`);
    }
  } catch (e) {
    problem = `stopped by ${e instanceof Error ? e.message : String(e)}`;
  } finally {
    if (chaos) await chaos.stop();
  }
  try {
    if (w.device) back = await readBack(w);
    if (user) others = await readOtherDevices(user);
  } catch (e) {
    problem = [problem, `store read-back failed: ${e instanceof Error ? e.message : String(e)}`].filter(Boolean).join('; ');
  }
  try {
    const r = report(t, back, out, problem, others);
    return chaos ? { ...r, chaos: chaos.counts } : r;
  } finally {
    await user?.stop();
    await w.stop();
  }
}

/** After chaos: thaw every process (ours and iOS's freezes), unlock, and bring the app to the front. */
async function heal(t: Tracker): Promise<void> {
  const d = t.d;
  for (const p of [d.app, d.nse]) if (p?.alive) p.stopped ? d.thaw(p) : p.signal('SIGCONT');
  d.unlock();
  if (!(await foreground(t, SETTLE_MS))) t.say('   the app did not report its wake in time');
}

function bounded<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error(`${what}: not done in ${ms / 1000} s`)), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
