/**
 * Flag parsing shared by every `nsekit` command, so they all behave alike (docs/cli.md,
 * "Errors and exit codes"): `--help`/`-h` anywhere asks for the usage, an unknown flag or a
 * flag without its value is a CLI_USAGE error, a value of the wrong form a CLI_BAD_VALUE
 * error naming the flag and the value. Nothing here prints or exits: the entry does.
 */
import { NsekitError } from '../core/errors.js';

/** A flag is a switch (`--json`) or takes the next argument as its value (`--seed 3`). */
export type FlagKind = 'switch' | 'value';
export type FlagSpec = Record<string, FlagKind>;

export interface Parsed {
  /** Values by flag name without the dashes; switches are `true`. The last occurrence wins. */
  flags: Record<string, string | true>;
  positionals: string[];
  help: boolean;
}

/** A usage error: the entry prints `nsekit <cmd>: CLI_USAGE: …` and the command's usage on stderr. */
export function usageError(msg: string): NsekitError {
  return new NsekitError('CLI_USAGE', msg);
}
export function badValue(flag: string, v: string | undefined, want: string): NsekitError {
  return new NsekitError('CLI_BAD_VALUE', `${flag} must be ${want}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
}

/**
 * Parses `argv` against `spec` (keys without dashes). `--flag=value` is accepted for value
 * flags. At most `maxPositionals` bare arguments (default none).
 */
export function parseFlags(argv: readonly string[], spec: FlagSpec, maxPositionals = 0): Parsed {
  const p: Parsed = { flags: {}, positionals: [], help: false };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === '--help' || x === '-h') {
      p.help = true;
      continue;
    }
    if (x.startsWith('-') && x !== '-') {
      const eq = x.indexOf('=');
      const name = (eq > 0 ? x.slice(0, eq) : x).replace(/^--?/, '');
      const kind = x.startsWith('--') ? spec[name] : undefined;
      if (!kind) throw usageError(`unknown option ${eq > 0 ? x.slice(0, eq) : x}`);
      if (kind === 'switch') {
        if (eq > 0) throw usageError(`--${name} takes no value`);
        p.flags[name] = true;
        continue;
      }
      const v = eq > 0 ? x.slice(eq + 1) : argv[++i];
      // A value that looks like a flag is a forgotten value (`--out --json`), not a value.
      if (v === undefined || (eq < 0 && v.startsWith('--'))) throw usageError(`--${name} needs a value`);
      p.flags[name] = v;
      continue;
    }
    if (p.positionals.length >= maxPositionals) throw usageError(`unexpected argument ${JSON.stringify(x)}`);
    p.positionals.push(x);
  }
  return p;
}

/** The string value of a value flag (undefined if absent). */
export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags[name];
  return typeof v === 'string' ? v : undefined;
}

/** An integer flag within [min, max]; undefined if absent. */
export function intFlag(p: Parsed, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  const n = /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const want = max === Number.MAX_SAFE_INTEGER ? (min === 0 ? 'a non-negative integer' : `an integer >= ${min}`) : `an integer in ${min}..${max}`;
    throw badValue(`--${name}`, v, want);
  }
  return n;
}

/** A TCP port (0 = any free port). */
export function portFlag(p: Parsed, name = 'port'): number | undefined {
  return intFlag(p, name, 0, 65535);
}

/** One of a fixed set of words. */
export function oneOf<T extends string>(p: Parsed, name: string, words: readonly T[]): T | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!(words as readonly string[]).includes(v)) throw badValue(`--${name}`, v, `one of ${words.join(', ')}`);
  return v as T;
}

/** Codes that mean "the invocation is wrong": the usage follows the message. */
const INVOCATION_CODES = new Set(['CLI_USAGE', 'CLI_BAD_VALUE', 'CLI_CONFIG']);

/**
 * How a command reports an error: one line `nsekit <cmd>: CODE: message` (an NsekitError's
 * message already starts with its code; anything else gets none and no stack unless
 * NSEKIT_LOG=debug), the usage after a usage error, and the exit code: the product commands
 * give 2 for a wrong invocation and 1 for a failure; sim and explore give 4 for any of them,
 * their 1 and 2 being verdicts (docs/cli.md, "Errors and exit codes").
 */
export function reportCliError(cmd: string, e: unknown, usage: string, err: (s: string) => void, family: 'product' | 'sim' = 'product'): number {
  const code = (e as { code?: unknown }).code;
  const isNsekit = e instanceof NsekitError;
  const msg = e instanceof Error ? e.message : String(e);
  err(`nsekit ${cmd}: ${msg}`);
  if (!isNsekit && process.env.NSEKIT_LOG === 'debug' && e instanceof Error && e.stack) err(e.stack);
  if (isNsekit && code === 'CLI_USAGE') err(usage);
  if (family === 'sim') return 4;
  return isNsekit && INVOCATION_CODES.has(code as string) ? 2 : 1;
}
