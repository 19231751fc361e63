/**
 * The product commands of the `nsekit` command line: the relay, the push gateway, queue
 * creation, one app or NSE process driven from stdin, and the demo. The simulator's
 * commands (`sim`, `explore`) are composed with these by sim/cli/nsekit.ts, the entry
 * bin/nsekit.js runs: nothing here imports the simulator. Every command takes `--help`
 * (usage on stdout, exit 0) and reports errors as `nsekit <cmd>: CODE: message`
 * (src/cli/args.ts; docs/cli.md).
 */
import { pathToFileURL } from 'node:url';
import { parseFlags, reportCliError, str, usageError } from './args.js';
import { PUSH_GATEWAY_USAGE, QUEUE_USAGE, RELAY_USAGE } from './usage.js';
import { DEMO_USAGE } from './demo/cli.js';


const procUsage = (role: 'app' | 'nse') => `usage: nsekit ${role} --config FILE
  runs one ${role === 'app' ? 'app' : 'NSE'} process without a device: lifecycle commands on stdin, events as JSON lines on stdout.
  FILE: a ProcConfig (docs/processes.md); nsekit queue create --relay URL writes one.
stdin commands (one per line):
  active | background | expiring | suspend | lock | unlock <masterKeyHex> | send <queueId> <text>
  push <json array of {notifierId, sealed}> | yield | status | quit`;

/** Each product command's own usage, printed by `nsekit <cmd> --help`. */
export const PRODUCT_USAGE: Record<string, string> = {
  demo: DEMO_USAGE,
  relay: RELAY_USAGE,
  'push-gateway': PUSH_GATEWAY_USAGE,
  queue: QUEUE_USAGE,
  app: procUsage('app'),
  nse: procUsage('nse'),
};

/** Usage of the product commands; `{{sim}}` is where a composing entry lists its own. */
export const PRODUCT_HELP = `nsekit — iOS app + Notification Service Extension coordination, simulated with real processes

usage:
  nsekit demo [--verbose] [--chaos [--minutes N] [--seed S]]
                                           relay + push gateway + sender + one device; sends messages while the
                                           device goes foreground → background → frozen → locked → unlocked →
                                           foreground and prints where each arrived. Exit 0 only if nothing was
                                           lost or duplicated. --chaos: meanwhile SIGSTOP/SIGCONT/SIGKILL and an
                                           outside lock holder, seeded (nsekit demo --help)
  nsekit relay --db PATH [--port N] [--with-gateway | --push-gateway URL] [--coalesce-ms N] [--bundle-max N]
                                           run the relay (ws + signed status endpoint) until SIGINT; limits and
                                           timeouts (rate, idle, handshake, frame, caps): nsekit relay --help
  nsekit push-gateway [--port N] [--background-per-hour N]
                                           run the simulated APNs
  nsekit queue create --relay URL [--out proc.json] [--shared-dir DIR] [--queues N]
                                           create queues on a running relay; write a config for app/nse
  nsekit app --config FILE                 run one app process; lifecycle commands on stdin, events on stdout
  nsekit nse --config FILE                 run one NSE process the same way
{{sim}}  nsekit --version                         print the version
  nsekit <command> --help                  one command's usage

exit codes: 0 success, 1 the command failed, 2 usage error (unknown option, bad value, bad --config);
sim/explore: 0 valid, 1 safety violation, 2 unknown, 3 liveness, 4 harness or usage error — docs/cli.md
logs: NSEKIT_LOG=debug|info|warn|error (stderr, tags [phase] [lock] [rt] [sync] [outbox] [push] [nse])`;

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
}
const stdio: CliIo = { out: (s) => process.stdout.write(s + '\n'), err: (s) => process.stderr.write(s + '\n') };

/**
 * Runs one product command; null if `cmd` is not one (the caller reports it). -1: it keeps
 * running (a server, a process on stdin) and exits on its own.
 */
export async function runProductCommand(cmd: string, rest: string[], io: CliIo = stdio): Promise<number | null> {
  const usage = PRODUCT_USAGE[cmd];
  if (usage === undefined) return null;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.out(usage);
    return 0;
  }
  try {
    return await run(cmd, rest, io);
  } catch (e) {
    return reportCliError(cmd, e, usage, io.err);
  }
}

async function run(cmd: string, rest: string[], io: CliIo): Promise<number> {
  switch (cmd) {
    case 'demo': {
      const { runDemoCli } = await import('./demo.js');
      return runDemoCli(rest);
    }
    case 'relay': {
      const { runRelayCli } = await import('./relay.js');
      await runRelayCli(rest);
      return -1;
    }
    case 'push-gateway': {
      const { runPushGatewayCli } = await import('./relay.js');
      await runPushGatewayCli(rest);
      return -1;
    }
    case 'queue': {
      const { runQueueCli } = await import('./queue.js');
      return runQueueCli(rest, io.out);
    }
    case 'app':
    case 'nse': {
      const p = parseFlags(rest, { config: 'value' });
      const file = str(p, 'config');
      if (!file) throw usageError('--config FILE is required (nsekit queue create --relay URL writes one)');
      const { loadProcConfig } = await import('./proc-config.js');
      const cfg = loadProcConfig(file);
      process.env.NSEKIT_CONFIG = JSON.stringify({ ...cfg, role: cmd });
      const { attachStdin } = await import('./manual.js');
      attachStdin(cmd);
      await import(pathToFileURL(new URL(`../${cmd}/main.ts`, import.meta.url).pathname).href);
      return -1;
    }
    default:
      throw usageError(`unknown command ${cmd}`);
  }
}
