import { readFileSync } from 'node:fs';
import { ErrorCodes, NsekitError } from '../../src/core/errors.js';
import { isFailpoint } from './failpoints.js';
import { SchemaValidator, type JsonSchema, type SchemaError } from './json-schema.js';
import { resolveWorld, type Scenario, type Step, type World } from './types.js';

/** The published schema (sim/scenario/scenario.schema.json). */
export const SCENARIO_SCHEMA_PATH = new URL('./scenario.schema.json', import.meta.url);
export const scenarioSchema: Record<string, unknown> = JSON.parse(readFileSync(SCENARIO_SCHEMA_PATH, 'utf8'));
const validator = new SchemaValidator(scenarioSchema as JsonSchema);

/** Schema errors only: what any JSON Schema 2020-12 validator would report. */
export function schemaErrors(x: unknown): SchemaError[] {
  return validator.validate(x);
}

/** Rules a schema cannot express: ids, references, pause/resume pairing, index bounds. */
export function semanticErrors(s: Scenario): SchemaError[] {
  const errs: SchemaError[] = [];
  const w = resolveWorld(s);
  const ids = new Map<string, number>();
  const paused = new Set<string>();
  s.steps.forEach((step, i) => {
    const at = `$.steps[${i}]`;
    if (step.id !== undefined) {
      if (ids.has(step.id)) errs.push({ path: `${at}.id`, message: `duplicate step id '${step.id}' (first at $.steps[${ids.get(step.id)}])` });
      else ids.set(step.id, i);
    }
    const when = step.when as Record<string, unknown> | undefined;
    if (when && typeof when.after === 'string') {
      const j = ids.get(when.after);
      if (j === undefined) errs.push({ path: `${at}.when.after`, message: `no earlier step has id '${when.after}'` });
    }
    errs.push(...deviceErrors(w, step, at));
    // A paused process is named by its device too (device 2's NSE is not device 1's).
    const onDev = (proc: string | undefined, dev: unknown) => (proc && (dev ?? 1) !== 1 ? `${proc}@${String(dev)}` : proc);
    if (step.do === 'pause') {
      if (!when || typeof when.at !== 'string') errs.push({ path: `${at}.when`, message: "pause needs a failpoint trigger: when: {proc, at}" });
      else if (when.proc !== step.proc) errs.push({ path: `${at}.when.proc`, message: `pause holds the process that hits the failpoint: when.proc must be '${step.proc}'` });
      else if ((when.device ?? 1) !== (step.device ?? 1)) errs.push({ path: `${at}.when.device`, message: `pause holds the process that hits the failpoint: when.device must be ${step.device ?? 1}` });
      if (step.proc) paused.add(onDev(step.proc, step.device)!);
    }
    if (step.do === 'resume' && step.proc && !paused.delete(onDev(step.proc, step.device)!)) {
      errs.push({ path: `${at}.proc`, message: `resume of '${step.proc}'${(step.device ?? 1) !== 1 ? ` on device ${step.device}` : ''} without an earlier pause of it` });
    }
    const args = (step.args ?? {}) as Record<string, unknown>;
    if ((step.do === 'send' || step.do === 'push' || step.do === 'tap') && typeof args.queue === 'number' && args.queue >= w.queues) {
      errs.push({ path: `${at}.args.queue`, message: `queue ${args.queue} out of range: world has ${w.queues} queue(s)` });
    }
    if (step.do === 'send' && typeof args.sender === 'number' && args.sender >= w.senders) {
      errs.push({ path: `${at}.args.sender`, message: `sender ${args.sender} out of range: world has ${w.senders} sender(s)` });
    }
  });
  for (const [i, h] of (s.expect?.hits ?? []).entries()) {
    const name = h.includes(':') ? h.slice(h.indexOf(':') + 1) : h;
    if (!isFailpoint(name)) errs.push({ path: `$.expect.hits[${i}]`, message: `unknown failpoint '${name}'` });
  }
  return errs;
}

/** `device` on a step or trigger names a device the world has. */
function deviceErrors(w: World, step: Step, at: string): SchemaError[] {
  const n = w.devices ?? 1;
  const errs: SchemaError[] = [];
  if (step.device !== undefined && step.device > n) errs.push({ path: `${at}.device`, message: `device ${step.device} out of range: world has ${n} device(s) (world.devices)` });
  const wd = (step.when as { device?: number } | undefined)?.device;
  if (wd !== undefined && wd > n) errs.push({ path: `${at}.when.device`, message: `device ${wd} out of range: world has ${n} device(s) (world.devices)` });
  return errs;
}

export type ValidationResult = { ok: true; scenario: Scenario } | { ok: false; errors: SchemaError[] };

export function validateScenario(x: unknown): ValidationResult {
  const errors = schemaErrors(x);
  if (errors.length === 0) errors.push(...semanticErrors(x as Scenario));
  return errors.length === 0 ? { ok: true, scenario: x as Scenario } : { ok: false, errors };
}

export function formatErrors(errors: SchemaError[]): string {
  return errors.map((e) => `  ${e.path}: ${e.message}`).join('\n');
}

/** Parses and validates; throws NsekitError SCENARIO_INVALID listing every error with its path. */
export function parseScenario(input: string | unknown, source = 'scenario'): Scenario {
  let x: unknown = input;
  if (typeof input === 'string') {
    try {
      x = JSON.parse(input);
    } catch (e) {
      throw new NsekitError(ErrorCodes.SCENARIO_INVALID, `${source}: not JSON: ${(e as Error).message}`, { source });
    }
  }
  const r = validateScenario(x);
  if (!r.ok) {
    throw new NsekitError(ErrorCodes.SCENARIO_INVALID, `${source} is not a valid scenario:\n${formatErrors(r.errors)}`, { source, errors: r.errors });
  }
  return r.scenario;
}

export function loadScenario(path: string): Scenario {
  return parseScenario(readFileSync(path, 'utf8'), path);
}
