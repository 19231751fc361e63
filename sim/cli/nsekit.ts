/**
 * The `nsekit` command line (bin/nsekit.js runs this through tsx): the product commands of
 * src/cli/commands.ts composed with the simulator's `sim` and `explore`. It lives here
 * because it composes both; src/ never imports the simulator. Every command, flag and
 * exit code: docs/cli.md.
 */
import { readFileSync } from 'node:fs';
import { PRODUCT_HELP, runProductCommand } from '../../src/cli/commands.js';

const SIM_HELP = `  nsekit sim <scenario.json|catalogue-name> [--mode real|fast] [--seed N] [--json] [--out DIR] [--progress]
             [--broken VARIANT] [--trigger-timeout-ms N]
                                           run a race scenario (docs/scenarios.md); --mode real (default): real
                                           processes; --mode fast: one process, virtual clock, seeded scheduler;
                                           exit 0 valid, 1 safety violation, 2 unknown, 3 liveness, 4 harness error
  nsekit explore [--runs N] [--seed S] [--json] [--broken VARIANT] [--out DIR] [--no-shrink] [--mode fast|real] [--compare]
                                           random scenarios; failures shrunk and saved with a replay command;
                                           exit 0 none found, 1 violations found, 4 harness error;
                                           nsekit explore --help for the rest (docs/fast-mode.md)
  nsekit transcript <scenario|catalogue-name> [--seed N] [--role nse|app] [--out FILE]
                                           record the NSE's (or the app's) conformance transcript of a scenario:
                                           its bridge bundle in a fast run (docs/ios-porting.md §6)
  nsekit test [DIR] [-- VITEST ARGS]       run the scenario tests (*.test.ts) under DIR, in any folder of the
                                           checkout; they import 'nsekit/test' (docs/reproducing-races.md)
`;
const HELP = PRODUCT_HELP.replace('{{sim}}', SIM_HELP);

function version(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case undefined:
      process.stderr.write(HELP + '\n');
      return 2;
    case '--help':
    case '-h':
    case 'help':
      process.stdout.write(HELP + '\n');
      return 0;
    case '--version':
    case '-V':
    case 'version':
      process.stdout.write(`nsekit ${version()}\n`);
      return 0;
    case 'sim':
    case 'explore':
      try {
        if (cmd === 'sim') return await (await import('./sim.js')).runSimCli(rest);
        return await (await import('../explore/cli.js')).runExploreCli(rest);
      } catch (e) {
        // Their 1 and 2 are verdicts: anything that escapes is a harness error, exit 4.
        process.stderr.write(`nsekit ${cmd}: harness error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
        return 4;
      }
    case 'test':
      return (await import('./test.js')).runTestCli(rest);
    case 'transcript':
      try {
        return await (await import('../bridge/transcript-cli.js')).runTranscriptCli(rest);
      } catch (e) {
        const usage = (e as { code?: string }).code === 'CLI_USAGE' ? `\n${(await import('../bridge/transcript-cli.js')).TRANSCRIPT_USAGE}` : '';
        process.stderr.write(`nsekit transcript: ${e instanceof Error ? e.message : String(e)}${usage}\n`);
        return 4;
      }
    default: {
      const code = await runProductCommand(cmd, rest);
      if (code !== null) return code;
      process.stderr.write(`nsekit: CLI_USAGE: unknown command ${JSON.stringify(cmd)}\n\n${HELP}\n`);
      return 2;
    }
  }
}

// A reader that stops early (`nsekit sim … | head -3`) closes stdout: the rest of the output
// is dropped and the command still finishes — and reaps what it started — with its own exit code.
for (const s of [process.stdout, process.stderr]) {
  s.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED') return;
    throw e;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    // Only a bug reaches here (each command reports its own errors): keep the stack.
    process.stderr.write(`nsekit: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
