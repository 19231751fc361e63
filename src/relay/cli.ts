/** The relay's command line lives with the other commands (src/cli/relay.ts); kept here for src/relay/index.ts and the relay tests' process entry. */
export { runRelayCli, runPushGatewayCli } from '../cli/relay.js';
