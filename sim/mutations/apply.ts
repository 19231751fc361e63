/**
 * Copies of the repository to plant a mutation in: src/, sim/, bin/, package.json and
 * tsconfig.json copied into a fresh temporary directory, node_modules symlinked. The working
 * tree is never written. With `ref`, the copy is that commit's tree (`git archive`), so measured
 * figures can name the commit they were taken at.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Mutation } from './table.js';

/** The repository this module lives in. */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

export const COPIED = ['src', 'sim', 'bin', 'package.json', 'tsconfig.json'] as const;

export interface RepoCopy {
  dir: string;
  /** Removes the copy (never the repository). */
  remove(): void;
}

export function copyRepo(opts: { root?: string; ref?: string; prefix?: string } = {}): RepoCopy {
  const root = opts.root ?? REPO_ROOT;
  const dir = mkdtempSync(join(tmpdir(), opts.prefix ?? 'nsekit-mutation-'));
  if (opts.ref) {
    const tar = execFileSync('git', ['-C', root, 'archive', '--format=tar', opts.ref, ...COPIED], { maxBuffer: 256 * 1024 * 1024 });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
  } else {
    for (const p of COPIED) cpSync(join(root, p), join(dir, p), { recursive: true });
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return {
    dir,
    remove: () => {
      if (dir.startsWith(tmpdir()) && dir !== root) rmSync(dir, { recursive: true, force: true });
    },
  };
}

export class MutationApplyError extends Error {}

/** Plants `m` in the copy at `dir`: every `find` must occur exactly once (else the table is stale). */
export function applyMutation(dir: string, m: Mutation): void {
  const path = join(dir, m.file);
  if (!existsSync(path)) throw new MutationApplyError(`${m.id}: ${m.file} does not exist`);
  let text = readFileSync(path, 'utf8');
  for (const e of m.edits) {
    const n = text.split(e.find).length - 1;
    if (n !== 1) throw new MutationApplyError(`${m.id}: expected the text to mutate exactly once in ${m.file}, found it ${n} times: ${JSON.stringify(e.find.slice(0, 80))}`);
    text = text.replace(e.find, () => e.replace);
  }
  writeFileSync(path, text);
}

/** Checks every row still applies to the files under `root` (no copy made). */
export function staleRows(rows: readonly Mutation[], root = REPO_ROOT): string[] {
  const out: string[] = [];
  for (const m of rows) {
    const path = join(root, m.file);
    if (!existsSync(path)) {
      out.push(`${m.id}: ${m.file} does not exist`);
      continue;
    }
    let text = readFileSync(path, 'utf8');
    for (const e of m.edits) {
      const n = text.split(e.find).length - 1;
      if (n !== 1) out.push(`${m.id}: text found ${n} times in ${m.file}: ${JSON.stringify(e.find.slice(0, 80))}`);
      else text = text.replace(e.find, () => e.replace);
    }
  }
  return out;
}
