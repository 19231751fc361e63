import { NsekitError } from '../../core/errors.js';

/** `nsekit demo` arguments (docs/cli.md). Exit 0 OK, 1 FAIL, 2 bad arguments. */
export const DEMO_USAGE = `usage: nsekit demo [--verbose] [--devices N] [--chaos [--minutes N] [--seed S]]

  Relay + push gateway + sender + one device with real app and NSE processes. Sends messages
  while the device goes foreground → background → frozen → locked → unlocked → foreground,
  then prints where each message arrived and a verdict line ending in OK or FAIL (naming what
  is missing). Exit 0 only if nothing was lost or duplicated.

  --chaos        repeat that walk while a seeded chaos loop SIGSTOPs/SIGCONTs/SIGKILLs the app
                 and the NSE and holds store.lock from outside (up to 3× the lock timeout);
                 then heal (continue, unlock, foreground) and print the same table and verdict
  --minutes N    how long the chaos runs (default 1; fractions allowed)
  --seed S       seed of the chaos loop's PRNG (default 1)
  --devices N    N devices of one user (default 1, at most 8): every message is one fan-out into each
                 device's queue; device 1 walks, the others stay frozen in the background (their NSEs
                 take the pushes); the verdict counts every device
  --verbose      the processes' logs on stderr (and each chaos action)
  --help         this text`;

export type DemoArgs = { verbose: boolean; chaos?: { minutes: number; seed: number }; devices?: number };

/** Parse `nsekit demo` arguments; a string is the usage error. */
export function parseDemoArgs(args: string[]): DemoArgs | 'help' | string {
  let verbose = false;
  let chaos = false;
  let minutes = 1;
  let seed = 1;
  let devices = 1;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const num = (what: string, ok: (n: number) => boolean): number | string => {
      const v = args[++i];
      const n = Number(v);
      return v !== undefined && v !== '' && Number.isFinite(n) && ok(n) ? n : `nsekit demo: ${a} needs ${what}, got ${JSON.stringify(v ?? '')}`;
    };
    if (a === '--help' || a === '-h') return 'help';
    else if (a === '--verbose') verbose = true;
    else if (a === '--chaos') chaos = true;
    else if (a === '--minutes') {
      const n = num('a number of minutes > 0', (x) => x > 0 && x <= 24 * 60);
      if (typeof n === 'string') return n;
      minutes = n;
    } else if (a === '--seed') {
      const n = num('an integer', (x) => Number.isInteger(x) && x >= 0 && x < 2 ** 32);
      if (typeof n === 'string') return n;
      seed = n;
    } else if (a === '--devices') {
      const n = num('an integer 1..8', (x) => Number.isInteger(x) && x >= 1 && x <= 8);
      if (typeof n === 'string') return n;
      devices = n;
    } else return `nsekit demo: unknown option ${a}`;
  }
  if (!chaos && (args.includes('--minutes') || args.includes('--seed'))) return 'nsekit demo: --minutes and --seed go with --chaos';
  return { verbose, ...(chaos ? { chaos: { minutes, seed } } : {}), ...(devices > 1 ? { devices } : {}) };
}

export async function runDemoCli(args: string[]): Promise<number> {
  const a = parseDemoArgs(args);
  if (a === 'help') {
    process.stdout.write(DEMO_USAGE + '\n');
    return 0;
  }
  if (typeof a === 'string') {
    // Reported by the command line as `nsekit demo: CODE: message` with the usage (src/cli/args.ts).
    const msg = a.replace(/^nsekit demo: /, '');
    throw new NsekitError(/ needs /.test(msg) ? 'CLI_BAD_VALUE' : 'CLI_USAGE', msg);
  }
  const { runDemo } = await import('./index.js');
  const r = await runDemo(a);
  return r.ok ? 0 : 1;
}
