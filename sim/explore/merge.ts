/**
 * `nsekit explore merge DIR… [--out DIR] [--json]`: combines the out dirs of
 * `nsekit explore --shard i/n` runs (each holds summary.json and its reproductions) into
 * the summary one whole run prints — same counts, same first violation, the same saved
 * reproductions, copied into the merge's out dir with their replay commands pointing there.
 * Exit codes as explore's: 0 no violation, 1 violations, 4 bad arguments or shards.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCENARIO_SCHEMA_PATH } from '../scenario/index.js';
import { NsekitError } from '../../src/core/errors.js';
import { parseFlags, reportCliError, str, usageError } from '../../src/cli/args.js';
import { mergeSummaries, printFastSummary, writeSummary, type FastSummary, type ReproEntry } from './summary.js';

export const MERGE_USAGE = `usage: nsekit explore merge DIR... [--out DIR] [--json]
  DIR: the out dir of each sharded explore run (its summary.json and reproductions);
  prints the summary one whole run prints and writes it, with the reproductions, to --out
  (default runs/explore/merged-<time>)`;

function readSummary(dir: string): FastSummary {
  const file = join(dir, 'summary.json');
  if (!existsSync(file)) throw new NsekitError('CLI_IO', `${dir}: no summary.json (not the --out of an nsekit explore run)`);
  let s: FastSummary;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as FastSummary;
  } catch (e) {
    throw new NsekitError('CLI_IO', `${file}: not valid JSON (${(e as Error).message})`);
  }
  if (s.mode !== 'fast' || !s.range) throw new NsekitError('CLI_BAD_VALUE', `${file}: not a fast-mode explore summary (mode ${JSON.stringify(s.mode)})`);
  return s;
}

export async function runMergeCli(argv: readonly string[], out: (s: string) => void, err: (s: string) => void): Promise<number> {
  try {
    const p = parseFlags(argv, { out: 'value', json: 'switch' }, Infinity);
    if (p.help) {
      out(MERGE_USAGE);
      return 0;
    }
    if (!p.positionals.length) throw usageError('no shard directories given');
    const parts = p.positionals.map(readSummary);
    const outDir = str(p, 'out') ?? join('runs', 'explore', `merged-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    mkdirSync(outDir, { recursive: true });
    // Each kept reproduction moves into the merge's out dir; its replay command and the
    // description inside the file name the new path.
    const relocate = (r: ReproEntry): ReproEntry => {
      const path = join(outDir, basename(r.path));
      const file = JSON.parse(readFileSync(r.path, 'utf8').split(r.path).join(path)) as { $schema?: string };
      // The schema link is relative to the file's folder, which may sit at another depth now.
      if (file.$schema) file.$schema = relative(resolve(outDir), fileURLToPath(SCENARIO_SCHEMA_PATH));
      writeFileSync(path, JSON.stringify(file, null, 2) + '\n');
      return { ...r, path, replay: r.replay.split(r.path).join(path) };
    };
    let merged: FastSummary;
    try {
      merged = mergeSummaries(parts, relocate);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new NsekitError('CLI_IO', (e as Error).message);
      throw new NsekitError('CLI_BAD_VALUE', `cannot merge ${p.positionals.join(' ')}: ${(e as Error).message}`);
    }
    out(`seed=${merged.seed} runs=${merged.runs} mode=fast${merged.broken ? ` broken=${merged.broken}` : ''} merged=${parts.length} shards out=${outDir}`);
    writeSummary(outDir, merged);
    printFastSummary(merged, out);
    if (p.flags.json) out(JSON.stringify(merged));
    return merged.violations > 0 ? 1 : 0;
  } catch (e) {
    return reportCliError('explore merge', e, MERGE_USAGE, (s) => err(`${s}\n`), 'sim');
  }
}
