import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layering docs/architecture.md states: the shipping code (src/) never imports the simulator
// (sim/), and no module imports itself through a chain of value imports (an import cycle makes
// module initialisation order-dependent). Type-only imports are erased at build time and do not count.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'node_modules' || n === 'dist' ? [] : tsFiles(p);
    return n.endsWith('.ts') && !n.endsWith('.d.ts') ? [p] : [];
  });
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?from\s+)?['"](\.[^'"]+)['"]/g;

function graph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of ['src', 'sim'].flatMap((d) => tsFiles(join(ROOT, d)))) {
    const deps: string[] = [];
    for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
      let p = normalize(join(dirname(f), m[1]!));
      if (p.endsWith('.js')) p = p.slice(0, -3) + '.ts';
      else if (existsSync(p) && statSync(p).isDirectory()) p = join(p, 'index.ts');
      else if (!p.endsWith('.ts')) p += '.ts';
      if (existsSync(p)) deps.push(p);
    }
    g.set(f, deps);
  }
  return g;
}

/** Strongly connected components of more than one module (Tarjan). */
function cycles(g: Map<string, string[]>): string[][] {
  let n = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, n);
    low.set(v, n++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(relative(ROOT, w));
      } while (w !== v);
      if (comp.length > 1) out.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!index.has(v)) visit(v);
  return out;
}

describe('module layering', () => {
  const g = graph();

  it('reads the import graph of src/ and sim/', () => expect(g.size).toBeGreaterThan(200));

  it('src/ never imports sim/ (the simulator wraps the shipping code, never the other way round)', () => {
    const bad = [...g].flatMap(([f, deps]) => (relative(ROOT, f).startsWith('src/') ? deps.filter((d) => relative(ROOT, d).startsWith('sim/')).map((d) => `${relative(ROOT, f)} → ${relative(ROOT, d)}`) : []));
    expect(bad).toEqual([]);
  });

  it('has no import cycle among value imports', () => {
    expect(cycles(g)).toEqual([]);
  });

  it('finds a cycle when there is one (the check itself works)', () => {
    const a = join(ROOT, 'a.ts');
    const b = join(ROOT, 'b.ts');
    expect(cycles(new Map([[a, [b]], [b, [a]]]))).toEqual([['a.ts', 'b.ts']]);
  });
});
