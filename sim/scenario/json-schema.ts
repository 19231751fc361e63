import Ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ErrorCodes, NsekitError } from '../../src/core/errors.js';

/**
 * JSON Schema (draft 2020-12) validation of scenarios by Ajv, a maintained
 * implementation, compiling the published schema itself: the schema is the one
 * source of truth, there is no second copy of its rules here. This file only
 * turns Ajv's errors into the `path: message` lines users see (docs/scenarios.md,
 * "Validation and its errors").
 */
export type JsonSchema = boolean | { [k: string]: unknown };

export interface SchemaError {
  /** Where: `$`, `$.steps[2].when`, … */
  path: string;
  message: string;
}

// ajv ships CommonJS: under NodeNext its default export arrives as the module object.
const Ajv2020 = ((Ajv2020Module as unknown as { default?: unknown }).default ?? Ajv2020Module) as typeof Ajv2020Module.default;

/** The id under which a schema without `$id` is registered, so its sub-schemas can be looked up. */
const ANON_ID = 'urn:nsekit:schema:anonymous';
const show = (v: unknown) => JSON.stringify(v);
function typeOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (typeof x === 'number') return Number.isInteger(x) ? 'integer' : 'number';
  return typeof x;
}

export class SchemaValidator {
  private readonly ajv: InstanceType<typeof Ajv2020>;
  private readonly validateFn: ValidateFunction;
  private readonly id: string;
  /** JSON pointer of every sub-schema object, to find a failed oneOf/anyOf's branches. */
  private readonly pointers = new Map<object, string>();

  constructor(root: JsonSchema) {
    // strict: a keyword Ajv does not know is an error, so the schema cannot say more than is
    // enforced. strictRequired/strictTypes are off: the schema's `if`/`then` parts name
    // properties and types declared elsewhere in the same object, which is legal 2020-12.
    this.ajv = new Ajv2020({ allErrors: true, verbose: true, strict: true, strictRequired: false, strictTypes: false });
    const hasId = typeof root === 'object' && typeof root.$id === 'string';
    this.id = hasId ? (root as { $id: string }).$id : ANON_ID;
    try {
      this.ajv.addSchema(root as object, hasId ? undefined : ANON_ID);
      this.validateFn = this.ajv.getSchema(this.id)!;
    } catch (e) {
      throw new NsekitError(ErrorCodes.SCENARIO_INVALID, `schema: ${(e as Error).message}`);
    }
    this.walk(root, '');
  }

  validate(value: unknown): SchemaError[] {
    return this.run(this.validateFn, value);
  }

  private walk(s: unknown, ptr: string): void {
    if (typeof s !== 'object' || s === null) return;
    this.pointers.set(s, ptr);
    for (const [k, v] of Object.entries(s)) {
      if (k === 'enum' || k === 'const' || k === 'default' || k === 'examples' || k === 'required') continue;
      this.walk(v, `${ptr}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
    }
  }

  /** Validates `value` and maps the errors (paths from `$`, the value itself). */
  private run(fn: ValidateFunction, value: unknown): SchemaError[] {
    if (fn(value)) return [];
    return this.map(fn.errors ?? [], value);
  }

  /** How many raw Ajv errors `fn` gives on `value` (same options, so the same as inside the whole run). */
  private rawCount(fn: ValidateFunction, value: unknown): number {
    return fn(value) ? 0 : (fn.errors?.length ?? 0);
  }

  private map(raw: ErrorObject[], value: unknown): SchemaError[] {
    // One group of mapped errors per raw error, index for index, so a failed combinator can
    // blank the raw errors of its branches, which Ajv reports just before it.
    const out: SchemaError[][] = [];
    for (const e of raw) {
      const path = jsonPath(value, e.instancePath);
      const data = (e as ErrorObject & { data?: unknown }).data;
      const p = e.params as Record<string, any>;
      const schema = (e as ErrorObject & { schema?: unknown }).schema;
      const parent = (e as ErrorObject & { parentSchema?: Record<string, any> }).parentSchema ?? {};
      switch (e.keyword) {
        case 'if':
          out.push([]); // the failing `then`/`else` keyword is reported on its own
          continue;
        case 'oneOf':
        case 'anyOf': {
          if (e.keyword === 'oneOf' && Array.isArray(p.passingSchemas)) {
            out.push([{ path, message: 'matches more than one of the allowed forms' }]);
            continue;
          }
          const branches = schema as JsonSchema[];
          const arrPtr = this.pointers.get(branches as unknown as object);
          const sub = subValue(value, e.instancePath);
          const fns = arrPtr === undefined ? [] : branches.map((_, i) => this.ajv.getSchema(`${this.id}#${arrPtr}/${i}`)!);
          // The branches' own errors came just before this one: drop them, report the closest branch.
          const n = fns.reduce((acc, f) => acc + this.rawCount(f, sub), 0);
          for (let i = Math.max(0, out.length - n); i < out.length; i++) out[i] = [];
          const alts = branches.map((b) => (typeof b === 'object' && typeof b.description === 'string' ? b.description.split('.')[0] : null)).filter(Boolean);
          const group: SchemaError[] = [{ path, message: `matches none of the allowed forms${alts.length ? `: ${alts.join(' | ')}` : ''}` }];
          if (fns.length) {
            const results = fns.map((f) => this.run(f, sub).map((x) => ({ ...x, path: path + x.path.slice(1) })));
            group.push(...results.reduce((a, b) => (b.length < a.length ? b : a)));
          }
          out.push(group);
          continue;
        }
      }
      out.push([{ path: e.keyword === 'additionalProperties' ? childPath(path, p.additionalProperty) : path, message: messageFor(e.keyword, p, data, schema, parent, e.message) }]);
    }
    return out.flat();
  }
}

function messageFor(keyword: string, p: Record<string, any>, data: unknown, schema: unknown, parent: Record<string, any>, fallback: string | undefined): string {
  switch (keyword) {
    case 'required':
      return `missing required property '${p.missingProperty}'`;
    case 'type': {
      const types = Array.isArray(schema) ? schema : [schema];
      return `must be ${types.join(' or ')} (got ${typeOf(data)})`;
    }
    case 'enum':
      return `must be one of ${(p.allowedValues as unknown[]).map(show).join(', ')} (got ${show(data)})`;
    case 'const':
      return `must be ${show(p.allowedValue)} (got ${show(data)})`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return `must be ${p.comparison} ${p.limit} (got ${show(data)})`;
    case 'minLength':
      return `must be at least ${p.limit} characters`;
    case 'maxLength':
      return `must be at most ${p.limit} characters`;
    case 'minItems':
      return `must have at least ${p.limit} items`;
    case 'maxItems':
      return `must have at most ${p.limit} items`;
    case 'uniqueItems':
      return 'items must be unique';
    case 'maxProperties':
      return `must have at most ${p.limit} properties`;
    case 'pattern':
      return `must match ${p.pattern} (got ${show(data)})`;
    case 'additionalProperties': {
      const allowed = Object.keys((parent.properties ?? {}) as object);
      return `unknown property '${p.additionalProperty}'${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`;
    }
    case 'not': {
      const req = typeof schema === 'object' && schema !== null && Array.isArray((schema as { required?: unknown }).required) ? ((schema as { required: string[] }).required) : null;
      return req ? `must not have ${req.map((r) => `'${r}'`).join(', ')}` : 'matches a form that is not allowed';
    }
    case 'false schema':
      return 'is not allowed here';
    default:
      return fallback ?? `fails '${keyword}'`;
  }
}

function segments(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}
function subValue(root: unknown, pointer: string): unknown {
  let v = root;
  for (const s of segments(pointer)) v = (v as Record<string, unknown>)?.[s];
  return v;
}
function childPath(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
/** `/steps/0/when` → `$.steps[0].when` (array indices in brackets, as users read them). */
function jsonPath(root: unknown, pointer: string): string {
  let path = '$';
  let v = root;
  for (const s of segments(pointer)) {
    path = Array.isArray(v) ? childPath(path, Number(s)) : childPath(path, s);
    v = (v as Record<string, unknown>)?.[s];
  }
  return path;
}
