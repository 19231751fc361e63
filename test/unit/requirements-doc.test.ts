import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// docs/requirements.md maps each seed requirement to code and tests; renames and merges silently
// break such a map, so the paths it names and the test titles it quotes are checked here.
const root = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(new URL('../../docs/requirements.md', import.meta.url), 'utf8');

interface Row {
  id: string;
  cells: string[];
}

function tableRows(text: string): Row[] {
  const rows: Row[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^\| (\d{3}\.\d+[a-z]?) \|(.*)\|$/);
    if (!m) continue;
    // `|` inside backticks (e.g. `writes:ready|blocked`) is not a cell separator.
    const cells: string[] = [];
    let cur = '';
    let code = false;
    for (const ch of m[2]!) {
      if (ch === '`') code = !code;
      if (ch === '|' && !code) {
        cells.push(cur.trim());
        cur = '';
      } else cur += ch;
    }
    cells.push(cur.trim());
    rows.push({ id: m[1]!, cells });
  }
  return rows;
}

/** Backticked spans that name a repository path: `src/…`, `test/…`, `sim/…` (first word only). */
function repoPaths(cell: string): string[] {
  return [...cell.matchAll(/`((?:src|test|sim)\/[^`\s]+)[^`]*`/g)].map((m) => m[1]!);
}

/**
 * A quoted test title, abridged at "…", attributed to the last test file named before it; a doc
 * link (`[x.md](x.md) "Section"`) ends that attribution: its quote is a section name.
 */
function quotedTitles(cell: string): { file: string; title: string }[] {
  const out: { file: string; title: string }[] = [];
  let file: string | null = null;
  for (const m of cell.matchAll(/`(test\/[^`\s]+\.test\.ts)`|\]\([^)]*\)|"([^"]+)"/g)) {
    if (m[1]) file = m[1];
    else if (m[2] === undefined) file = null;
    else if (file) out.push({ file, title: m[2]!.split('…')[0]!.trim().replace(/,$/, '') });
  }
  return out;
}

const rows = tableRows(doc);

describe('docs/requirements.md', () => {
  it('has the table rows of all five seeds, each with requirement, code and proof cells', () => {
    expect(new Set(rows.map((r) => r.id.slice(0, 3)))).toEqual(new Set(['000', '001', '002', '003', '004']));
    expect(rows.length).toBeGreaterThan(45);
    expect(rows.filter((r) => r.cells.length !== 3 || r.cells.some((c) => c === '')).map((r) => r.id)).toEqual([]);
    expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
  });

  it('no TODO is left (a gap is stated in words)', () => {
    expect(doc.split('\n').filter((l) => /TODO/.test(l))).toEqual([]);
  });

  it('every src/, test/ and sim/ path in the table exists', () => {
    const paths = rows.flatMap((r) => r.cells.flatMap((c) => repoPaths(c).map((p) => ({ id: r.id, p }))));
    expect(paths.length).toBeGreaterThan(60);
    expect(paths.filter(({ p }) => !existsSync(root + p))).toEqual([]);
  });

  it('every catalogue scenario named in the table is in sim/scenarios', () => {
    const names = rows.flatMap((r) =>
      r.cells.flatMap((c) => [...c.matchAll(/catalogue ((?:`[a-z0-9-]+`(?:, )?)+)/g)].flatMap((m) => [...m[1]!.matchAll(/`([a-z0-9-]+)`/g)].map((n) => n[1]!))),
    );
    expect(names.length).toBeGreaterThan(10);
    expect(names.filter((n) => !existsSync(`${root}sim/scenarios/${n}.json`))).toEqual([]);
  });

  it('every quoted test title after a test file is a title in that file', () => {
    const titles = rows.flatMap((r) => quotedTitles(r.cells[2]!).map((t) => ({ id: r.id, ...t })));
    expect(titles.length).toBeGreaterThan(25);
    const missing = titles.filter(({ file, title }) => {
      if (!existsSync(root + file)) return true;
      const src = readFileSync(root + file, 'utf8').replace(/\\'/g, "'");
      return !src.includes(title);
    });
    expect(missing).toEqual([]);
  });
});
