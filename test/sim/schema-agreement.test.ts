import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCENARIO_SCHEMA_PATH, schemaErrors, scenario } from '../../sim/scenario/index.js';

/**
 * Cross-checks the built-in validator against an independent JSON Schema
 * 2020-12 implementation (Python `jsonschema`, if installed): the schema must
 * pass the 2020-12 meta-schema, and both must agree on every example.
 */
const PY = `
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
print(json.dumps([v.is_valid(d) for d in json.load(sys.stdin)]))
`;
const hasJsonschema = spawnSync('python3', ['-c', 'import jsonschema'], { timeout: 30_000 }).status === 0;

const base = { name: 'x', steps: [] as unknown[] };
const examplesDir = new URL('../../sim/scenario/examples/', import.meta.url);
const cases: unknown[] = [
  ...readdirSync(examplesDir).map((f) => JSON.parse(readFileSync(new URL(f, examplesDir), 'utf8'))),
  scenario('a').background().when('nse', 'lock.acquired').freeze('nse').send({ count: 3 }).thaw('nse').foreground().expectValid(['nse:lock.acquired']).build(),
  { name: 'x' },
  { ...base, steps: [{ do: 'explode' }] },
  { ...base, steps: [{ do: 'freeze' }] },
  { ...base, steps: [{ do: 'foreground', proc: 'nse' }] },
  { ...base, steps: [{ when: { proc: 'nse', at: 'lock.grabbed' }, do: 'kill', proc: 'nse' }] },
  { ...base, steps: [{ when: { at_ms: 5, after: 'a' }, do: 'heal' }] },
  { ...base, steps: [{ do: 'wait' }] },
  { ...base, steps: [{ do: 'wait', args: { ms: 5 } }] },
  { ...base, steps: [{ do: 'send', args: { count: 0 } }] },
  { ...base, steps: [{ do: 'send', args: { count: 2.5 } }] },
  { ...base, steps: [{ do: 'send', proc: 'app' }] },
  { ...base, steps: [{ do: 'heal', args: { x: 1 } }] },
  { ...base, steps: [{ do: 'lock-device', args: {} }] },
  { ...base, steps: [{ do: 'delay-push', args: { ms: 5, x: 1 } }] },
  { ...base, steps: [{ do: 'thaw', proc: 'relay' }] },
  { ...base, steps: [{ id: '1bad', do: 'heal' }] },
  { ...base, steps: [{ when: { proc: 'app', at: 'db.tx.commit', nth: 0 }, do: 'kill', proc: 'app' }] },
  { ...base, world: { timefactor: 0.1 } },
  { ...base, world: { timeFactor: 0 } },
  { ...base, world: { budgets: { nseExpiryCallback: false, nseMemoryMb: 0 } } },
  { ...base, name: 'Has Spaces' },
  { ...base, expect: { hits: ['nse:db.tx.begin', 'notify.shown'] } },
  { ...base, expect: { hits: ['nse:nope'] } },
  { ...base, expect: { hits: ['xx:lock.acquired'] } },
  { ...base, expect: { violations: ['no-loss', 'bogus'] } },
  { ...base, extra: 1 },
  { ...base, steps: [{ when: { proc: 'app', at: 'phase.enter', phase: 'suspending', nth: 2 }, do: 'kill', proc: 'app' }] },
  { ...base, steps: [{ when: { proc: 'app', at: 'lock.acquired', phase: 'suspending' }, do: 'kill', proc: 'app' }] },
  { ...base, steps: [{ when: { proc: 'app', at: 'phase.enter', phase: 'asleep' }, do: 'kill', proc: 'app' }] },
  { ...base, steps: [{ do: 'foreground', proc: 'app' }, { do: 'heal', concurrent: true }] },
  { ...base, steps: [{ do: 'heal', concurrent: 1 }] },
  [],
  'str',
  null,
];

describe('schema agreement with an independent 2020-12 validator', () => {
  it.skipIf(!hasJsonschema)('python jsonschema accepts the schema and agrees on every example', () => {
    const r = spawnSync('python3', ['-c', PY, fileURLToPath(SCENARIO_SCHEMA_PATH)], { input: JSON.stringify(cases), timeout: 50_000, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const theirs: boolean[] = JSON.parse(r.stdout);
    const ours = cases.map((c) => schemaErrors(c).length === 0);
    expect(ours).toEqual(theirs);
    expect(ours.filter(Boolean).length).toBeGreaterThanOrEqual(5);
    expect(ours.filter((x) => !x).length).toBeGreaterThanOrEqual(20);
  });
  if (!hasJsonschema) it('SKIPPED: python3 jsonschema not installed — the cross-check did not run', () => {
    console.warn('schema-agreement.test.ts: python3 -c "import jsonschema" failed; cross-check skipped');
    expect(hasJsonschema).toBe(false);
  });
});
