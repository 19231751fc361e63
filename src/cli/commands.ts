/**
 * The product commands of the `nsekit` command line: the relay, the push gateway, one app
 * or NSE process driven from stdin, and the demo. The simulator's commands (`sim`,
 * `explore`) are composed with these by sim/cli/nsekit.ts, the entry bin/nsekit.js runs:
 * nothing here imports the simulator.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

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
  nsekit app --config FILE                 run one app process; lifecycle commands on stdin, events on stdout
  nsekit nse --config FILE                 run one NSE process the same way
{{sim}}  nsekit --help

stdin commands for app/nse (one per line):
  active | background | expiring | suspend | lock | unlock <masterKeyHex> | send <queueId> <text>
  push <json array of {notifierId, sealed}> | yield | status | quit
config FILE: JSON ProcConfig (docs/processes.md): sharedDir, relayUrl, queues[{queueId, recipientKey, e2eKey, ...}], mode …
logs: NSEKIT_LOG=debug|info|warn|error (stderr, tags [phase] [lock] [rt] [sync] [outbox] [push] [nse])`;

/** Runs one product command; null if `cmd` is not one (the caller reports it). -1: keeps running. */
export async function runProductCommand(cmd: string, rest: string[], help: string): Promise<number | null> {
  switch (cmd) {
    case 'demo': {
      const { runDemoCli } = await import('./demo.js');
      return runDemoCli(rest);
    }
    case 'relay': {
      const { runRelayCli } = await import('../relay/index.js');
      await runRelayCli(rest);
      return -1; // keeps running until a signal
    }
    case 'push-gateway': {
      const { runPushGatewayCli } = await import('../relay/index.js');
      await runPushGatewayCli(rest);
      return -1;
    }
    case 'app':
    case 'nse': {
      const i = rest.indexOf('--config');
      const file = i >= 0 ? rest[i + 1] : undefined;
      if (!file) throw new Error(`nsekit ${cmd}: --config FILE is required\n\n${help}`);
      const cfg = JSON.parse(readFileSync(file, 'utf8'));
      process.env.NSEKIT_CONFIG = JSON.stringify({ ...cfg, role: cmd });
      const { attachStdin } = await import('./manual.js');
      attachStdin(cmd);
      await import(pathToFileURL(new URL(`../${cmd}/main.ts`, import.meta.url).pathname).href);
      return -1;
    }
    default:
      return null;
  }
}
