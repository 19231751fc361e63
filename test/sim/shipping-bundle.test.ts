import { build } from 'esbuild';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BUNDLE_OPTIONS } from '../../src/device/bundle.js';
import { ENTRY } from '../../src/device/proc.js';
import { BROKEN_ENV, BROKEN_VARIANTS } from '../../sim/broken.js';
import { SIM_ENTRIES } from '../../sim/real/entries.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The app and NSE bundled as src/device/bundle.ts bundles them, in memory; one text per entry. */
async function bundle(entries: { app: string; nse: string }): Promise<Record<'app' | 'nse', string>> {
  const r = await build({ entryPoints: { app: entries.app, nse: entries.nse }, ...BUNDLE_OPTIONS, outdir: '/nsekit-bundle-check', write: false });
  const text = (name: string) => r.outputFiles.find((f) => f.path.endsWith(`/${name}.cjs`))!.text;
  return { app: text('app'), nse: text('nse') };
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : [p];
  });
}

describe('the shipping app and NSE carry no broken variant', () => {
  it('the bundle of src/app/main.ts and src/nse/main.ts names none of the variants', { timeout: 60_000 }, async () => {
    const shipped = await bundle(ENTRY);
    for (const role of ['app', 'nse'] as const) {
      expect(shipped[role].length, role).toBeGreaterThan(10_000);
      for (const v of BROKEN_VARIANTS) expect(shipped[role].includes(v), `${role} bundle contains '${v}'`).toBe(false);
      // (Not the bare word: a dependency's comment says "broken upstream plumbing".)
      expect(shipped[role].includes(BROKEN_ENV), `${role} bundle reads ${BROKEN_ENV}`).toBe(false);
    }
  });

  it('the simulation entries (sim/real) do carry them: the check above can fail', { timeout: 60_000 }, async () => {
    const sim = await bundle(SIM_ENTRIES);
    for (const role of ['app', 'nse'] as const) for (const v of BROKEN_VARIANTS) expect(sim[role].includes(v), `${role}: ${v}`).toBe(true);
  });

  it('no file under src/ has the word "broken" (comments included)', () => {
    const hits = sources(join(ROOT, 'src')).flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\bbroken\b/i.test(line) ? [`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(hits).toEqual([]);
  });
});
