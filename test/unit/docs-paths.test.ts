import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The docs are how users and the iOS team find their way: every repository path they name in
// backticks and every relative markdown link must point at something that exists.
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const PAGES = [
  'README.md',
  ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`),
  ...readdirSync(join(ROOT, 'ios-bridge')).filter((f) => f.endsWith('.md')).map((f) => `ios-bridge/${f}`),
];
const PATH = /`((?:src|sim|test|ios-bridge|docs)\/[A-Za-z0-9_./-]+\.(?:ts|js|json|md|swift))`/g;
const LINK = /\]\(([^)#:\s]+\.md)(?:#[^)]*)?\)/g;

describe('docs name files that exist', () => {
  it('found the pages', () => expect(PAGES.length).toBeGreaterThan(15));
  for (const page of PAGES) {
    it(page, () => {
      const text = readFileSync(join(ROOT, page), 'utf8');
      const missing: string[] = [];
      // ios-bridge/dist/ holds build outputs (npm run build:bridge), absent from a clean clone.
      for (const m of text.matchAll(PATH)) if (!m[1]!.startsWith('ios-bridge/dist/') && !existsSync(join(ROOT, m[1]!))) missing.push(m[1]!);
      for (const m of text.matchAll(LINK)) if (!existsSync(resolve(ROOT, dirname(page), m[1]!))) missing.push(`link ${m[1]}`);
      expect(missing).toEqual([]);
    });
  }
});
