/**
 * The `nsekit` command line (bin/nsekit.js runs this through tsx): the product commands of
 * src/cli/commands.ts composed with the simulator's `sim` and `explore`. It lives here
 * because it composes both; src/ never imports the simulator.
 */
import { PRODUCT_HELP, runProductCommand } from '../../src/cli/commands.js';

const SIM_HELP = `  nsekit sim <scenario.json|catalogue-name> [--seed N] [--json] [--out DIR] [--progress] [--mode fast|real]
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
`;
const HELP = PRODUCT_HELP.replace('{{sim}}', SIM_HELP);

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP + '\n');
      return cmd === undefined ? 2 : 0;
    case 'sim': {
      const { runSimCli } = await import('./sim.js');
      return runSimCli(rest);
    }
    case 'explore': {
      const { runExploreCli } = await import('../explore/cli.js');
      return runExploreCli(rest);
    }
    default: {
      const code = await runProductCommand(cmd, rest, HELP);
      if (code !== null) return code;
      process.stderr.write(`nsekit: unknown command ${JSON.stringify(cmd)}\n\n${HELP}\n`);
      return 2;
    }
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
