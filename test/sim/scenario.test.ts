import { fileURLToPath } from 'node:url';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isNsekitError } from '../../src/core/errors.js';
import {
  FAILPOINTS, SchemaValidator, VERBS, loadScenario, parseScenario, resolveWorld,
  scaledBudgets, scenario, scenarioSchema, validateScenario,
} from '../../sim/scenario/index.js';

const defs = scenarioSchema.$defs as Record<string, any>;

describe('the published schema', () => {
  it('is compiled by Ajv in strict mode: a keyword it would not enforce is refused', () => {
    expect(() => new SchemaValidator(scenarioSchema as never)).not.toThrow();
    let err: unknown;
    try {
      new SchemaValidator({ type: 'object', properties: { a: { type: 'string', minLenght: 2 } } });
    } catch (e) {
      err = e;
    }
    expect(isNsekitError(err, 'SCENARIO_INVALID')).toBe(true);
    expect((err as Error).message).toMatch(/schema: .*unknown keyword.*minLenght/);
  });
  it('lists exactly FAILPOINTS and VERBS', () => {
    expect(defs.failpoint.enum).toEqual([...FAILPOINTS]);
    expect(defs.step.properties.do.enum).toEqual([...VERBS]);
    const hitPattern = new RegExp(defs.expect.properties.hits.items.anyOf[1].pattern);
    for (const f of FAILPOINTS) expect(hitPattern.test(`nse:${f}`)).toBe(true);
    expect(hitPattern.test('nse:lock.acquiredX')).toBe(false);
  });
  it('is draft 2020-12 and describes every world field for editors', () => {
    expect(scenarioSchema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    for (const [k, v] of Object.entries(defs.world.properties as Record<string, any>)) if (k !== 'budgets') expect(v.description, k).toBeTruthy();
  });
});

describe('the validator implements JSON Schema semantics for its subset', () => {
  const cases: [unknown, unknown, boolean][] = [
    [{ type: 'integer' }, 1.5, false],
    [{ type: 'number' }, 2, true],
    [{ type: ['string', 'null'] }, null, true],
    [{ const: 'app' }, 'nse', false],
    [{ exclusiveMinimum: 0 }, 0, false],
    [{ exclusiveMinimum: 0 }, 'not a number', true],
    [{ required: ['a'] }, [], true],
    [{ properties: { a: { type: 'string' } }, additionalProperties: false }, { a: 'x' }, true],
    [{ properties: { a: { type: 'string' } }, additionalProperties: false }, { b: 1 }, false],
    [{ oneOf: [{ type: 'integer' }, { type: 'number' }] }, 1, false],
    [{ anyOf: [{ type: 'integer' }, { type: 'number' }] }, 1, true],
    [{ if: { properties: { k: { const: 1 } } }, then: { required: ['v'] } }, { k: 1 }, false],
    [{ if: { properties: { k: { const: 1 } } }, then: { required: ['v'] } }, { k: 2 }, true],
    [{ not: { required: ['p'] } }, { p: 1 }, false],
    [{ items: { pattern: '^a' } }, ['ab', 'b'], false],
    [{ $ref: '#/$defs/x', $defs: { x: { enum: [1] } } }, 1, true],
  ];
  it.each(cases)('%j on %j → %s', (schema, value, ok) => {
    expect(new SchemaValidator(schema as never).validate(value).length === 0).toBe(ok);
  });
});

describe('scenario validation', () => {
  it('accepts the example files', () => {
    const dir = new URL('../../sim/scenario/examples/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    expect(files.length).toBeGreaterThanOrEqual(2);
    for (const f of files) expect(loadScenario(fileURLToPath(new URL(f, dir))).name).toBe(f.replace(/\.json$/, ''));
  });
  const base = { name: 'x', steps: [] as unknown[] };
  const bad: [string, unknown, string, string][] = [
    ['missing steps', { name: 'x' }, '$', "missing required property 'steps'"],
    ['unknown verb', { ...base, steps: [{ do: 'explode' }] }, '$.steps[0].do', 'must be one of'],
    ['freeze without proc', { ...base, steps: [{ do: 'freeze' }] }, '$.steps[0]', "missing required property 'proc'"],
    ['foreground the nse', { ...base, steps: [{ do: 'foreground', proc: 'nse' }] }, '$.steps[0].proc', 'must be "app"'],
    ['unknown failpoint', { ...base, steps: [{ when: { proc: 'nse', at: 'lock.grabbed' }, do: 'kill', proc: 'nse' }] }, '$.steps[0].when.at', 'must be one of'],
    ['mixed trigger', { ...base, steps: [{ when: { at_ms: 5, after: 'a' }, do: 'heal' }] }, '$.steps[0].when', 'matches none of the allowed forms'],
    ['wait without ms', { ...base, steps: [{ do: 'wait' }] }, '$.steps[0]', "missing required property 'args'"],
    ['send with bad count', { ...base, steps: [{ do: 'send', args: { count: 0 } }] }, '$.steps[0].args.count', 'must be >= 1'],
    ['args on heal', { ...base, steps: [{ do: 'heal', args: { x: 1 } }] }, '$.steps[0].args.x', "unknown property 'x'"],
    ['proc on send', { ...base, steps: [{ do: 'send', proc: 'app' }] }, '$.steps[0]', "must not have 'proc'"],
    ['world typo', { ...base, world: { timefactor: 0.1 } }, '$.world.timefactor', "unknown property 'timefactor'"],
    ['timeFactor 0', { ...base, world: { timeFactor: 0 } }, '$.world.timeFactor', 'must be > 0'],
    ['bad name', { ...base, name: 'Has Spaces' }, '$.name', 'must match'],
    ['after unknown id', { ...base, steps: [{ when: { after: 'nope' }, do: 'heal' }] }, '$.steps[0].when.after', "no earlier step has id 'nope'"],
    ['duplicate id', { ...base, steps: [{ id: 'a', do: 'heal' }, { id: 'a', do: 'heal' }] }, '$.steps[1].id', 'duplicate step id'],
    ['pause without failpoint', { ...base, steps: [{ when: { at_ms: 1 }, do: 'pause', proc: 'nse' }] }, '$.steps[0].when', 'pause needs a failpoint trigger'],
    ['resume without pause', { ...base, steps: [{ do: 'resume', proc: 'app' }] }, '$.steps[0].proc', 'without an earlier pause'],
    ['queue out of range', { ...base, world: { queues: 2 }, steps: [{ do: 'send', args: { queue: 2 } }] }, '$.steps[0].args.queue', 'out of range'],
    ['background task not a boolean', { ...base, steps: [{ do: 'background', proc: 'app', args: { task: 'no' } }] }, '$.steps[0].args.task', 'boolean'],
    ['refresh with a proc', { ...base, steps: [{ do: 'refresh', proc: 'app' }] }, '$.steps[0]', 'proc'],
    ['app-send count 0', { ...base, steps: [{ do: 'app-send', args: { count: 0 } }] }, '$.steps[0].args.count', '1'],
  ];
  it('accepts the background-window verbs with their arguments', () => {
    const steps = [
      { do: 'settings', args: { backgroundRefresh: true } },
      { do: 'background', proc: 'app', args: { task: false } },
      { do: 'refresh', args: { budgetMs: 5_000 } },
      { do: 'silent-push', args: { queue: 0, throttled: true, budgetMs: 30_000 } },
      { do: 'app-send', args: { queue: 0, count: 2 } },
      { do: 'force-quit' },
    ];
    const r = validateScenario({ ...base, steps });
    expect(r.ok, JSON.stringify(r.ok ? null : r.errors)).toBe(true);
  });
  it.each(bad)('rejects %s with a JSON path', (_label, x, path, msg) => {
    const r = validateScenario(x);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.some((e) => e.path === path && e.message.includes(msg)), JSON.stringify(r.errors)).toBe(true);
  });
  it('parseScenario throws SCENARIO_INVALID listing the errors', () => {
    let err: unknown;
    try {
      parseScenario('{"name":"x","steps":[{"do":"freeze"}]}', 'x.json');
    } catch (e) {
      err = e;
    }
    expect(isNsekitError(err, 'SCENARIO_INVALID')).toBe(true);
    expect((err as Error).message).toContain("x.json is not a valid scenario:\n  $.steps[0]: missing required property 'proc'");
    expect(() => parseScenario('{nope', 'y.json')).toThrow(/SCENARIO_INVALID: y.json: not JSON/);
  });
});

describe('builder', () => {
  it('produces the JSON of the brief example, which validates against the schema', () => {
    const s = scenario('nse-frozen')
      .world({ mode: 'instant', budgets: { nseMs: 30000 } })
      .background('app')
      .when('nse', 'lock.acquired')
      .freeze('nse')
      .as('frozen')
      .send({ count: 3, notification: true })
      .thaw('nse')
      .foreground('app')
      .expectValid(['nse:lock.acquired'])
      .build();
    expect(s).toEqual({
      name: 'nse-frozen',
      world: { mode: 'instant', budgets: { nseMs: 30000 } },
      steps: [
        { do: 'background', proc: 'app' },
        { id: 'frozen', when: { proc: 'nse', at: 'lock.acquired' }, do: 'freeze', proc: 'nse' },
        { do: 'send', args: { count: 3, notification: true } },
        { do: 'thaw', proc: 'nse' },
        { do: 'foreground', proc: 'app' },
      ],
      expect: { valid: true, hits: ['nse:lock.acquired'] },
    });
    expect(validateScenario(JSON.parse(JSON.stringify(s)))).toEqual({ ok: true, scenario: s });
  });
  it('builds the same scenario as an example file', () => {
    const file = JSON.parse(readFileSync(new URL('../../sim/scenario/examples/second-push-mid-get.json', import.meta.url), 'utf8'));
    const built = scenario('second-push-mid-get')
      .describe(file.description)
      .world({ queues: 1, senders: 2 })
      .background()
      .expire('app')
      .send({ count: 1, sender: 0 })
      .pauseAt('nse', 'net.get.sent')
      .as('held')
      .send({ count: 1, sender: 1 })
      .push({ queue: 0 })
      .atMs(200)
      .resume('nse')
      .foreground()
      .expectValid(['nse:net.get.sent', 'queue.slot.released'])
      .build();
    const { $schema: _ignored, ...rest } = file;
    expect(JSON.parse(JSON.stringify(built))).toEqual({ ...rest, steps: rest.steps.map((s: any) => ({ ...s })) });
  });
  it('build() rejects what the schema rejects', () => {
    expect(() => scenario('x').after('missing').heal().build()).toThrow(/SCENARIO_INVALID[\s\S]*no earlier step has id 'missing'/);
    expect(() => scenario('x').wait(-1).build()).toThrow(/\$\.steps\[0\]\.args\.ms: must be >= 0/);
  });
  it('fills world defaults and scales budgets by timeFactor', () => {
    const w = resolveWorld(scenario('x').world({ timeFactor: 0.01, budgets: { nseMs: 30000 } }).build());
    expect(w).toMatchObject({ mode: 'instant', lockBackend: 'flock', senders: 1, queues: 1 });
    expect(scaledBudgets(w)).toEqual({ bgTaskMs: 300, noTaskMs: 50, nseMs: 300, nseGraceMs: 20, nseMemoryMb: 24 });
  });
});

describe('checkExpectations', () => {
  it('reports a wrong verdict, missing/unexpected violations and unreached failpoints', async () => {
    const { checkExpectations, missingHits } = await import('../../sim/scenario/index.js');
    const { HistoryRecorder, opFromFailpoint } = await import('../../sim/history/index.js');
    const { checkAll } = await import('../../sim/checkers/index.js');
    const r = new HistoryRecorder({ now: () => 0 });
    r.append(opFromFailpoint('nse', 1, 'lock.acquired'));
    r.append({ proc: 'orchestrator', type: 'ok', f: 'freeze', value: { proc: 'nse', pid: 1 } });
    const res = checkAll(r.history);
    expect(missingHits(r.history, ['lock.acquired', 'nse:lock.acquired', 'app:lock.acquired', 'notify.shown'])).toEqual(['app:lock.acquired', 'notify.shown']);
    const caught = scenario('x').freeze('nse').expectViolations('no-dead10cc').expectHits('nse:lock.acquired').build();
    expect(checkExpectations(caught, r.history, res)).toEqual({ ok: true, problems: [] });
    const wrong = scenario('x').freeze('nse').expectValid(['notify.shown']).expectViolations('gates').build();
    expect(checkExpectations(wrong, r.history, res).problems).toEqual([
      'expected violations not found: gates',
      'unexpected violations: no-dead10cc',
      'failpoints never reached (race not hit): notify.shown',
    ]);
    const valid = scenario('x').freeze('nse').expectValid().build();
    expect(checkExpectations(valid, r.history, res).problems).toEqual(['expected valid=true, got false']);
  });
});

describe('scenario schema and checkers agree', () => {
  it('expect.violations lists exactly the invariants the checkers judge (a saved reproduction of any of them validates)', async () => {
    const { CHECKERS } = await import('../../sim/checkers/index.js');
    const { scenarioSchema: schema } = await import('../../sim/scenario/index.js');
    const enumList = (schema as any).$defs.expect.properties.violations.items.enum;
    expect([...enumList].sort()).toEqual(Object.keys(CHECKERS).sort());
  });
});
