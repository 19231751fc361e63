/**
 * `nsekit transcript`: record one process's conformance transcript of a scenario
 * (./record-transcript.ts), check that it replays in Node against the same bundle, and write it.
 * docs/ios-porting.md §6.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { intFlag, oneOf, parseFlags, str, usageError } from '../../src/cli/args.js';
import { buildBridge } from '../../ios-bridge/build.js';
import { runInNode, type Transcript } from '../../ios-bridge/conformance/node-runner.js';
import { resolveScenario } from '../cli/resolve.js';
import { recordTranscript, transcriptJson } from './record-transcript.js';

export const TRANSCRIPT_USAGE = `usage: nsekit transcript <scenario.json|catalogue-name> [--seed N] [--role nse|app] [--out FILE] [--json]
  runs the scenario in fast mode with one process on its bridge bundle, over the fast world's lock,
  store, pending inbox and relay, and writes what that process did as a conformance transcript
  --seed N      the run's seed (default 1): same scenario, seed and bundle → the same transcript
  --role nse    the NSE on nsekit-nse.js (the app runs as the shipping App session) — the default
  --role app    the app on nsekit-app.js (the NSE runs as the shipping NSE session): its lifecycle as
                a host maps it (launch, active, background, expiry, protected data, send, window,
                settings, push token, logout/login), the relay's SUB deliveries and dropped
                connections as host steps; at the end the app leaves the front and its
                background task expires, so it ends quiescent
  --out FILE    where to write it (default ios-bridge/conformance/sim-<scenario>-<role>.json)
exit codes: 0 written (it replays in Node), 1 not written (the run cannot be a transcript: why on stderr —
  e.g. the process killed or relaunched, frozen with a timer due, or, for the app, a background
  without a background task, a relay END), 4 usage or harness error`;

const CONFORMANCE_DIR = fileURLToPath(new URL('../../ios-bridge/conformance/', import.meta.url));

export async function runTranscriptCli(argv: readonly string[]): Promise<number> {
  const p = parseFlags(argv, { seed: 'value', role: 'value', out: 'value', json: 'switch' }, 1);
  if (p.help) {
    process.stdout.write(TRANSCRIPT_USAGE + '\n');
    return 0;
  }
  const target = p.positionals[0];
  if (target === undefined) throw usageError('missing scenario (a scenario .json file or a catalogue name)');
  const seed = intFlag(p, 'seed') ?? 1;
  const role = oneOf(p, 'role', ['nse', 'app'] as const) ?? 'nse';
  const { scenario } = resolveScenario(target);
  const dir = mkdtempSync(join(tmpdir(), 'nsekit-transcript-'));
  try {
    const nse = await buildBridge({ role: 'nse', outfile: join(dir, 'nsekit-nse.js') });
    const app = await buildBridge({ role: 'app', outfile: join(dir, 'nsekit-app.js') });
    const r = await recordTranscript(scenario, seed, { bundle: role === 'app' ? app.outfile : nse.outfile, role });
    const problems = [...r.problems];
    let replay = 'not run';
    if (r.transcript) {
      const back = await runInNode({ nse: nse.outfile, app: app.outfile }, JSON.parse(transcriptJson(r.transcript)) as Transcript);
      replay = back.ok ? 'ok' : `MISMATCH at ${back.mismatch?.index}`;
      if (!back.ok) problems.push(`the transcript does not replay in Node: first difference at event ${back.mismatch?.index} (${JSON.stringify(back.mismatch?.actual)})`);
    }
    const out = resolve(str(p, 'out') ?? join(CONFORMANCE_DIR, `sim-${scenario.name}-${role}.json`));
    const written = r.transcript !== null && problems.length === 0;
    if (written) writeFileSync(out, transcriptJson(r.transcript!));
    const summary = {
      scenario: scenario.name,
      seed,
      role,
      run: { valid: r.run.valid, exitCode: r.run.exitCode, harnessErrors: r.run.harnessErrors.length },
      events: r.transcript?.expected.length ?? 0,
      steps: r.transcript?.steps.length ?? 0,
      replay,
      out: written ? out : null,
      problems,
    };
    for (const x of problems) process.stderr.write(`nsekit transcript: ${x}\n`);
    process.stdout.write(
      p.flags.json === true
        ? JSON.stringify(summary) + '\n'
        : `${written ? 'wrote' : 'NOT written'} ${written ? out : ''} scenario=${scenario.name} seed=${seed} role=${role} events=${summary.events} steps=${summary.steps} replay(node)=${replay} run: valid=${String(r.run.valid)} exit=${r.run.exitCode}\n`,
    );
    return written ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
