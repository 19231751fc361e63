/**
 * Every TypeScript and JSON example in docs/scenarios.md and docs/reproducing-races.md runs as
 * written and shows the verdict it claims (issue 14 item 18). A fenced block says what it is
 * after its language: `json scenario` (a whole scenario: run in both modes, its `expect` must
 * hold), `ts test` (a whole vitest file: run with `nsekit test`, its own assertions are the
 * claim), `json fragment` (a piece of a file: must parse). An untagged json/ts block fails
 * this test, so no example can slip past it.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { validateScenario, type Scenario } from '../../sim/scenario/index.js';
import { reapCli, runCli } from '../helpers/cli.js';

const nsekit = (args: string[], cwd: string, timeoutMs: number) => runCli(args, { cwd, timeoutMs });

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['docs/scenarios.md', 'docs/reproducing-races.md'];
const root = mkdtempSync(join(tmpdir(), 'nsekit-docs-examples-'));
afterAll(() => {
  reapCli();
  rmSync(root, { recursive: true, force: true });
});

interface Block {
  doc: string;
  line: number;
  lang: string;
  tags: string[];
  body: string;
}

function blocks(doc: string): Block[] {
  const lines = readFileSync(join(REPO, doc), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!m) continue;
    const start = i;
    const body: string[] = [];
    for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
    out.push({ doc, line: start + 1, lang: m[1]!, tags: m[2]!.split(/\s+/).filter(Boolean), body: body.join('\n') });
  }
  return out;
}


const all = DOCS.flatMap(blocks);
const code = all.filter((b) => b.lang === 'json' || b.lang === 'ts');
const where = (b: Block) => `${b.doc}:${b.line}`;

describe('docs examples run as written (docs/scenarios.md, docs/reproducing-races.md)', () => {
  it('every json/ts block is tagged scenario, test or fragment, and there is something to run', () => {
    for (const b of code) expect(b.tags.filter((t) => ['scenario', 'test', 'fragment'].includes(t)), where(b)).toHaveLength(1);
    expect(code.filter((b) => b.tags.includes('scenario')).length).toBeGreaterThanOrEqual(1);
    expect(code.filter((b) => b.tags.includes('test')).length).toBeGreaterThanOrEqual(4);
  });

  it('json fragments are JSON (an object member, an object or a list of steps)', () => {
    for (const b of code.filter((x) => x.tags.includes('fragment') && x.lang === 'json')) {
      const parsed = [b.body, `{${b.body}}`, `[${b.body}]`].some((t) => {
        try {
          JSON.parse(t);
          return true;
        } catch {
          return false;
        }
      });
      expect(parsed, where(b)).toBe(true);
    }
  });

  for (const b of code.filter((x) => x.tags.includes('scenario'))) {
    it(`${where(b)}: the scenario validates and meets its own expect in both modes`, { timeout: 120_000 }, async () => {
      const s = JSON.parse(b.body) as Scenario;
      const v = validateScenario(s);
      expect(v.ok, JSON.stringify(v)).toBe(true);
      expect(s.expect, `${where(b)} claims no verdict`).toBeDefined();
      const file = join(root, `${s.name}.json`);
      writeFileSync(file, b.body);
      for (const mode of ['fast', 'real']) {
        const r = await nsekit(['sim', file, '--mode', mode, '--seed', '1', '--json', '--out', join(root, 'runs', mode)], root, 110_000);
        const last = JSON.parse(r.stdout.trim().split('\n').pop()!);
        expect(last.expectMet, `${where(b)} --mode ${mode}:\n${r.stdout}`).toBe(true);
        if (s.expect!.valid !== undefined) expect(last.valid, mode).toBe(s.expect!.valid);
        expect(r.code, mode).toBe(last.valid === true ? 0 : 1);
      }
    });
  }

  it('every `ts test` block passes as a vitest file (nsekit test)', { timeout: 400_000 }, async () => {
    const tests = code.filter((b) => b.tags.includes('test'));
    const dir = join(root, 'examples');
    mkdirSync(dir, { recursive: true });
    const names = tests.map((b, k) => {
      const name = `${b.doc.replace(/\W+/g, '-')}-${b.line}.test.ts`;
      writeFileSync(join(dir, name), b.body);
      return { name, b, k };
    });
    const report = join(root, 'vitest.json');
    // cwd: runs/ of examples without outDir lands in the temp folder.
    const r = await nsekit(['test', dir, '--', '--reporter=json', `--outputFile=${report}`], root, 390_000);
    const json = JSON.parse(readFileSync(report, 'utf8')) as { testResults: { name: string; status: string; message: string; assertionResults: { title: string; status: string; failureMessages: string[] }[] }[] };
    for (const { name, b } of names) {
      const f = json.testResults.find((t) => t.name.endsWith(`/${name}`));
      expect(f, `${where(b)} did not run`).toBeDefined();
      const failures = f!.assertionResults.filter((a) => a.status !== 'passed').map((a) => `${a.title}: ${a.failureMessages.join('\n')}`);
      expect(failures, `${where(b)}: ${f!.message}`).toEqual([]);
      expect(f!.assertionResults.length, where(b)).toBeGreaterThanOrEqual(1);
    }
    expect(r.code, r.stderr).toBe(0);
  });
});
