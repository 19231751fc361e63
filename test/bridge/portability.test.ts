import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * src/core is bundled for a bare JavaScriptCore context: walk its import graph
 * and its source (comments stripped) and fail on anything that context lacks.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const CORE = join(ROOT, 'src/core');
// @noble/curves: pure JS like the other noble packages (Ed25519 status signatures in protocol/).
const ALLOWED_BARE = ['xstate', '@noble/ciphers', '@noble/hashes', '@noble/curves'];

const FORBIDDEN: [string, RegExp][] = [
  ['Date.now', /\bDate\s*\.\s*now\b/],
  ['new Date', /\bnew\s+Date\b/],
  ['Date()', /(?<![\w.])Date\s*\(/],
  ['Math.random', /\bMath\s*\.\s*random\b/],
  ['timers', /(?<![\w.])(setTimeout|setInterval|setImmediate|clearTimeout|clearInterval|clearImmediate)\b/],
  ['console', /(?<![\w.'"])console\s*\./],
  ['crypto global', /(?<![\w.'"/])crypto\s*\.|globalThis\s*\.\s*crypto\b/],
  ['TextEncoder/TextDecoder', /\bText(En|De)coder\b/],
  ['structuredClone', /\bstructuredClone\b/],
  ['queueMicrotask', /\bqueueMicrotask\b/],
  ['process', /(?<![\w.])process\s*\./],
  ['Buffer', /(?<![\w.])Buffer\b/],
  ['require', /(?<![\w.])require\s*\(/],
  ['atob/btoa', /(?<![\w.])(atob|btoa)\s*\(/],
];

/** Removes // and /* comments, leaving string and template contents in place. */
export function stripComments(src: string): string {
  let out = '';
  for (let i = 0; i < src.length; ) {
    const c = src[i]!;
    const n = src[i + 1];
    if (c === '/' && n === '/') {
      while (i < src.length && src[i] !== '\n') i++;
    } else if (c === '/' && n === '*') {
      const end = src.indexOf('*/', i + 2);
      i = end < 0 ? src.length : end + 2;
      out += ' ';
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** String literals blanked, so a log message mentioning "console." is not code. */
function blankStrings(code: string): string {
  return code.replace(/'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"/g, "''");
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

// Statements start a line (so a string like 'the inbox import' is not one); dynamic import() anywhere.
const IMPORT_RE = /^\s*(?:import|export)\s[^'";]*?from\s*['"]([^'"]+)['"]|^\s*import\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;

function importsOf(code: string): string[] {
  const out: string[] = [];
  for (const m of code.matchAll(IMPORT_RE)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

describe('src/core portability (runs in a bare JavaScriptCore context)', () => {
  const files = walk(CORE);

  it('finds the core sources', () => {
    expect(files.length).toBeGreaterThan(3);
    expect(files.some((f) => f.endsWith('host.ts'))).toBe(true);
  });

  it('imports only relative modules inside src/core and the allowlisted pure-JS packages', () => {
    const problems: string[] = [];
    const seen = new Set<string>();
    const queue = [...files];
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const spec of importsOf(stripComments(readFileSync(file, 'utf8')))) {
        const where = relative(ROOT, file);
        if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
          if (!target.startsWith(CORE + '/')) problems.push(`${where}: imports ${spec} from outside src/core`);
          else if (!existsSync(target)) problems.push(`${where}: ${spec} does not resolve to a .ts file`);
          else queue.push(target);
        } else if (!ALLOWED_BARE.some((p) => spec === p || spec.startsWith(p + '/'))) {
          problems.push(`${where}: imports ${spec}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('never touches ambient clock, randomness, timers, console, crypto or Node globals', () => {
    const problems: string[] = [];
    for (const file of files) {
      const code = blankStrings(stripComments(readFileSync(file, 'utf8')));
      const lines = code.split('\n');
      for (const [name, re] of FORBIDDEN) {
        lines.forEach((line, i) => {
          if (re.test(line)) problems.push(`${relative(ROOT, file)}:${i + 1}: ${name}: ${line.trim()}`);
        });
      }
    }
    expect(problems).toEqual([]);
  });

  it('the scanner itself catches what it must (self-check on a bad sample)', () => {
    const bad = [
      "import { x } from 'node:fs';",
      'const t = Date.now();',
      'setTimeout(() => 1, 5);',
      'console.log("x");',
      'crypto.getRandomValues(a);',
      'new TextEncoder();',
      'Math.random();',
    ].join('\n');
    const code = blankStrings(stripComments(bad));
    const hits = FORBIDDEN.filter(([, re]) => code.split('\n').some((l) => re.test(l))).map(([n]) => n);
    expect(hits).toEqual(expect.arrayContaining(['Date.now', 'timers', 'console', 'crypto global', 'TextEncoder/TextDecoder', 'Math.random']));
    expect(importsOf(bad)).toEqual(['node:fs']);
    expect(importsOf("throw new Error('locked during the inbox import');\nimport './side-effect.js';")).toEqual(['./side-effect.js']);
    expect(blankStrings(stripComments('// console.log(1)\nconst s = "console.log";'))).not.toMatch(/console\./);
  });
});
