/** Where `nsekit sim` finds a scenario: a file, or a name in the catalogue or the detectors. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NsekitError } from '../../src/core/errors.js';
import { loadScenario, type Scenario } from '../scenario/index.js';

export const CATALOGUE_DIR = fileURLToPath(new URL('../scenarios/', import.meta.url));

/**
 * Detector scenarios (sim/scenarios/detectors/) model a *bug* on purpose — e.g. a process
 * frozen while it holds the lock — to prove the harness records the violation and the
 * system still recovers. They expect `valid: false`, so they are kept out of the catalogue,
 * whose every scenario must be valid on our implementation; they resolve by name all the same.
 */
export const DETECTORS_DIR = join(CATALOGUE_DIR, 'detectors');

const jsonNames = (dir: string): string[] =>
  existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort() : [];

/** Names of the catalogue scenarios (sim/scenarios/*.json, without .json). */
export function catalogueNames(): string[] {
  return jsonNames(CATALOGUE_DIR);
}

/** Names of the detector scenarios (sim/scenarios/detectors/*.json). */
export function detectorNames(): string[] {
  return jsonNames(DETECTORS_DIR);
}

/** A scenario file path, or a catalogue name. */
export function resolveScenario(arg: string): { scenario: Scenario; source: string } {
  const isDir = existsSync(arg) && statSync(arg).isDirectory();
  if (existsSync(arg) && !isDir) return { scenario: loadScenario(arg), source: arg };
  const name = basename(arg).replace(/\.json$/, '');
  for (const dir of [CATALOGUE_DIR, DETECTORS_DIR]) {
    const path = join(dir, `${name}.json`);
    if (existsSync(path)) return { scenario: loadScenario(path), source: name };
  }
  if (isDir) {
    const inside = jsonNames(arg);
    throw new NsekitError('SIM_NO_SCENARIO', `${arg} is a directory, not a scenario file${inside.length ? ` (it holds ${inside.slice(0, 5).map((n) => `${n}.json`).join(', ')}${inside.length > 5 ? ', …' : ''})` : ''}`);
  }
  throw new NsekitError('SIM_NO_SCENARIO', `no scenario file ${arg} and no catalogue scenario '${name}' (catalogue: ${catalogueNames().join(', ')}; detectors: ${detectorNames().join(', ')})`);
}

/**
 * Both modes' CLI: resolve the target, or report a harness error (exit 4) on stderr and,
 * with --json, as the last stdout line. `extra` adds fields to that JSON (e.g. the mode).
 */
export function resolveForCli(
  a: { target?: string; json: boolean; seed?: number },
  out: (s: string) => void,
  err: (s: string) => void,
  extra: Record<string, unknown> = {},
): { scenario: Scenario; source: string } | null {
  try {
    return resolveScenario(a.target!);
  } catch (e) {
    const msg = (e as Error).message; // an NsekitError's message already starts with its code
    err(`nsekit sim: ${msg}`);
    if (a.json) out(JSON.stringify({ valid: 'unknown', seed: a.seed ?? null, violations: [], events: 0, ...extra, error: msg }));
    return null;
  }
}

