// Entry point for tests that run the relay as a real process (`node --import tsx relay-proc.ts …`).
import { runRelayCli } from '../../src/relay/cli.js';

void runRelayCli(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`${String(e)}\n`);
  process.exit(2);
});
