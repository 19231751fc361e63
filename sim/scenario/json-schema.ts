import { ErrorCodes, NsekitError } from '../../src/core/errors.js';

/**
 * A small JSON Schema (draft 2020-12) validator for the subset the scenario
 * schema uses — no new dependency. Unknown keywords throw, so the schema can't
 * silently grow past what is enforced (a test walks the schema for that).
 */
export type JsonSchema = boolean | { [k: string]: unknown };

export interface SchemaError {
  /** Where: `$`, `$.steps[2].when`, … */
  path: string;
  message: string;
}

const ANNOTATIONS = new Set(['$schema', '$id', 'title', 'description', 'default', 'examples', '$defs', '$comment']);
export const SUPPORTED_KEYWORDS = new Set([
  ...ANNOTATIONS,
  '$ref', 'type', 'enum', 'const', 'properties', 'required', 'additionalProperties', 'items', 'minItems', 'maxItems',
  'uniqueItems', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern',
  'oneOf', 'anyOf', 'allOf', 'not', 'if', 'then', 'else', 'maxProperties',
]);

function typeOf(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'array';
  if (typeof x === 'number') return Number.isInteger(x) ? 'integer' : 'number';
  return typeof x;
}
function typeMatches(x: unknown, t: string): boolean {
  const a = typeOf(x);
  return a === t || (t === 'number' && a === 'integer');
}
function childPath(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}
function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
const show = (v: unknown) => JSON.stringify(v);

export class SchemaValidator {
  constructor(private readonly root: JsonSchema) {}

  validate(value: unknown): SchemaError[] {
    const errs: SchemaError[] = [];
    this.check(this.root, value, '$', errs);
    return errs;
  }

  private resolve(ref: string): JsonSchema {
    if (!ref.startsWith('#/')) throw new NsekitError(ErrorCodes.SCENARIO_INVALID, `schema: only local $ref supported: ${ref}`);
    let node: unknown = this.root;
    for (const part of ref.slice(2).split('/')) node = (node as Record<string, unknown>)?.[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    if (node === undefined) throw new NsekitError(ErrorCodes.SCENARIO_INVALID, `schema: unresolved $ref ${ref}`);
    return node as JsonSchema;
  }

  private check(schema: JsonSchema, x: unknown, path: string, errs: SchemaError[]): void {
    if (schema === true) return;
    if (schema === false) {
      errs.push({ path, message: 'is not allowed here' });
      return;
    }
    for (const k of Object.keys(schema)) if (!SUPPORTED_KEYWORDS.has(k)) throw new NsekitError(ErrorCodes.SCENARIO_INVALID, `schema: unsupported keyword '${k}' at ${path}`);
    const s = schema as Record<string, any>;
    const push = (message: string, at = path) => errs.push({ path: at, message });
    if (s.$ref !== undefined) this.check(this.resolve(s.$ref), x, path, errs);
    if (s.type !== undefined) {
      const types: string[] = Array.isArray(s.type) ? s.type : [s.type];
      if (!types.some((t) => typeMatches(x, t))) {
        push(`must be ${types.join(' or ')} (got ${typeOf(x)})`);
        return; // the other keywords would only repeat the type error
      }
    }
    if (s.enum !== undefined && !s.enum.some((e: unknown) => deepEqual(e, x))) push(`must be one of ${s.enum.map(show).join(', ')} (got ${show(x)})`);
    if (s.const !== undefined && !deepEqual(s.const, x)) push(`must be ${show(s.const)} (got ${show(x)})`);
    if (typeof x === 'number') {
      if (s.minimum !== undefined && x < s.minimum) push(`must be >= ${s.minimum} (got ${x})`);
      if (s.maximum !== undefined && x > s.maximum) push(`must be <= ${s.maximum} (got ${x})`);
      if (s.exclusiveMinimum !== undefined && x <= s.exclusiveMinimum) push(`must be > ${s.exclusiveMinimum} (got ${x})`);
      if (s.exclusiveMaximum !== undefined && x >= s.exclusiveMaximum) push(`must be < ${s.exclusiveMaximum} (got ${x})`);
    }
    if (typeof x === 'string') {
      if (s.minLength !== undefined && x.length < s.minLength) push(`must be at least ${s.minLength} characters`);
      if (s.maxLength !== undefined && x.length > s.maxLength) push(`must be at most ${s.maxLength} characters`);
      if (s.pattern !== undefined && !new RegExp(s.pattern, 'u').test(x)) push(`must match ${s.pattern} (got ${show(x)})`);
    }
    if (Array.isArray(x)) {
      if (s.minItems !== undefined && x.length < s.minItems) push(`must have at least ${s.minItems} items`);
      if (s.maxItems !== undefined && x.length > s.maxItems) push(`must have at most ${s.maxItems} items`);
      if (s.uniqueItems === true && new Set(x.map(show)).size !== x.length) push('items must be unique');
      if (s.items !== undefined) x.forEach((item, i) => this.check(s.items, item, childPath(path, i), errs));
    }
    if (typeOf(x) === 'object') {
      const o = x as Record<string, unknown>;
      for (const r of s.required ?? []) if (!(r in o)) push(`missing required property '${r}'`);
      if (s.maxProperties !== undefined && Object.keys(o).length > s.maxProperties) push(`must have at most ${s.maxProperties} properties`);
      const props = (s.properties ?? {}) as Record<string, JsonSchema>;
      for (const [k, v] of Object.entries(o)) {
        if (k in props) this.check(props[k]!, v, childPath(path, k), errs);
        else if (s.additionalProperties === false) push(`unknown property '${k}'${Object.keys(props).length ? ` (allowed: ${Object.keys(props).join(', ')})` : ''}`, childPath(path, k));
        else if (s.additionalProperties !== undefined) this.check(s.additionalProperties, v, childPath(path, k), errs);
      }
    }
    for (const sub of s.allOf ?? []) this.check(sub, x, path, errs);
    if (s.anyOf !== undefined || s.oneOf !== undefined) {
      const branches: JsonSchema[] = s.anyOf ?? s.oneOf;
      const results = branches.map((b) => this.validate1(b, x, path));
      const passing = results.filter((r) => r.length === 0).length;
      if (passing === 0) {
        // Report the closest branch: the one with the fewest errors.
        const best = results.reduce((a, b) => (b.length < a.length ? b : a));
        const alts = branches.map((b) => (typeof b === 'object' && typeof b.description === 'string' ? b.description.split('.')[0] : null)).filter(Boolean);
        push(`matches none of the allowed forms${alts.length ? `: ${alts.join(' | ')}` : ''}`);
        errs.push(...best);
      } else if (s.oneOf !== undefined && passing > 1) push('matches more than one of the allowed forms');
    }
    if (s.not !== undefined && this.validate1(s.not, x, path).length === 0) {
      const req = typeof s.not === 'object' && Array.isArray(s.not.required) ? s.not.required : null;
      push(req ? `must not have ${req.map((r: string) => `'${r}'`).join(', ')}` : 'matches a form that is not allowed');
    }
    if (s.if !== undefined) {
      const holds = this.validate1(s.if, x, path).length === 0;
      if (holds && s.then !== undefined) this.check(s.then, x, path, errs);
      if (!holds && s.else !== undefined) this.check(s.else, x, path, errs);
    }
  }

  private validate1(schema: JsonSchema, x: unknown, path: string): SchemaError[] {
    const errs: SchemaError[] = [];
    this.check(schema, x, path, errs);
    return errs;
  }
}

/** All keywords in a schema (recursively), for the "subset" test. */
export function keywordsIn(schema: unknown, out = new Set<string>()): Set<string> {
  if (typeof schema !== 'object' || schema === null) return out;
  if (Array.isArray(schema)) {
    for (const s of schema) keywordsIn(s, out);
    return out;
  }
  for (const [k, v] of Object.entries(schema)) {
    out.add(k);
    if (k === 'properties' || k === '$defs') for (const sub of Object.values(v as object)) keywordsIn(sub, out);
    else if (k !== 'enum' && k !== 'const' && k !== 'default' && k !== 'required' && k !== 'examples') keywordsIn(v, out);
  }
  return out;
}
