/**
 * The `nsekit` command line (bin/nsekit.js runs this through tsx).
 *   nsekit relay …          the relay server (+ --with-gateway)
 *   nsekit push-gateway …   a standalone simulated APNs
 *   nsekit app --config F   one app process, driven from stdin (manual runs)
 *   nsekit nse --config F   one NSE process, driven from stdin
 *   nsekit demo             the end-to-end walk-through
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const HELP = `nsekit — iOS app + Notification Service Extension coordination, simulated with real processes

usage:
  nsekit demo [--verbose]                  relay + push gateway + sender + one device; sends messages while the
                                           device goes foreground → background → frozen → locked → unlocked →
                                           foreground and prints where each arrived. Exit 0 only if nothing was
                                           lost or duplicated.
  nsekit relay --db PATH [--port N] [--with-gateway | --push-gateway URL] [--coalesce-ms N] [--bundle-max N]
                                           run the relay (ws + signed status endpoint) until SIGINT; limits and
                                           timeouts (rate, idle, handshake, frame, caps): nsekit relay --help
  nsekit push-gateway [--port N] [--background-per-hour N]
                                           run the simulated APNs
  nsekit app --config FILE                 run one app process; lifecycle commands on stdin, events on stdout
  nsekit nse --config FILE                 run one NSE process the same way
  nsekit sim <scenario.json|catalogue-name> [--seed N] [--json] [--out DIR] [--progress] [--mode fast|real]
                                           run a race scenario with real processes (docs/scenarios.md);
                                           exit 0 valid, 1 safety violation, 2 unknown, 3 liveness, 4 harness error;
                                           --mode fast: one process, virtual clock, seeded scheduler [--broken VARIANT]
  nsekit explore [--runs N] [--seed S] [--json] [--broken VARIANT] [--out DIR] [--no-shrink] [--mode fast|real] [--compare]
                                           random scenarios in fast mode; failures shrunk and saved with a replay
                                           command; exit 0 none found, 1 violations found, 4 harness error.
                                           --mode real: each scenario with real processes (~5-30 s a run, 2 at a time;
                                           failures shrunk in fast mode, confirmed in real mode; harness errors = unknown);
                                           --compare: both modes, every verdict difference saved (exit 1);
                                           nsekit explore --help for the rest (docs/fast-mode.md)
  nsekit --help

stdin commands for app/nse (one per line):
  active | background | expiring | suspend | lock | unlock <masterKeyHex> | send <queueId> <text>
  push <json array of {notifierId, sealed}> | yield | status | quit
config FILE: JSON ProcConfig (docs/processes.md): sharedDir, relayUrl, queues[{queueId, recipientKey, e2eKey, ...}], mode …
logs: NSEKIT_LOG=debug|info|warn|error (stderr, tags [phase] [lock] [rt] [sync] [outbox] [push] [nse])`;

const [cmd, ...rest] = process.argv.slice(2);

async function main(): Promise<number> {
  switch (cmd) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP + '\n');
      return cmd === undefined ? 2 : 0;
    case 'sim': {
      const { runSimCli } = await import('../../sim/cli/sim.js');
      return runSimCli(rest);
    }
    case 'explore': {
      const { runExploreCli } = await import('../../sim/explore/cli.js');
      return runExploreCli(rest);
    }
    case 'demo': {
      const { runDemo } = await import('./demo.js');
      const r = await runDemo({ verbose: rest.includes('--verbose') });
      return r.ok ? 0 : 1;
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
      if (!file) throw new Error(`nsekit ${cmd}: --config FILE is required\n\n${HELP}`);
      const cfg = JSON.parse(readFileSync(file, 'utf8'));
      process.env.NSEKIT_CONFIG = JSON.stringify({ ...cfg, role: cmd });
      const { attachStdin } = await import('./manual.js');
      attachStdin(cmd);
      await import(pathToFileURL(new URL(`../${cmd}/main.ts`, import.meta.url).pathname).href);
      return -1;
    }
    default:
      process.stderr.write(`nsekit: unknown command ${JSON.stringify(cmd)}\n\n${HELP}\n`);
      return 2;
  }
}

main().then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
