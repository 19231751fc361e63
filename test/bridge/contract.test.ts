import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanBundle } from '../../ios-bridge/build.js';
import { transcriptFiles, type Transcript } from '../../ios-bridge/conformance/node-runner.js';
import { HOST_FUNCTIONS } from '../../src/core/bridge/contract.js';
import { ErrorCodes } from '../../src/core/errors.js';
import { buildTempBundle } from './bundle.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const md = readFileSync(join(ROOT, 'ios-bridge/host-contract.md'), 'utf8');
const dts = readFileSync(join(ROOT, 'ios-bridge/host-contract.d.ts'), 'utf8');
const transcripts = transcriptFiles().map((f) => JSON.parse(readFileSync(f, 'utf8')) as Transcript);

/** `### \`name(` headings inside one `## ` section of the contract. */
function headings(section: string): Set<string> {
  const start = md.indexOf(`## ${section}`);
  expect(start, `section ${section}`).toBeGreaterThanOrEqual(0);
  const end = md.indexOf('\n## ', start + 3);
  const body = md.slice(start, end < 0 ? undefined : end);
  return new Set([...body.matchAll(/^### `(\w+)\(/gm)].map((m) => m[1]!));
}

describe('host contract', () => {
  it('the host functions named in host-contract.md are exactly those the transcripts call', () => {
    const documented = headings('Host functions');
    const called = new Set(transcripts.flatMap((t) => (t.expected ?? []).map((e) => e.fn as string).filter(Boolean)));
    expect([...documented].sort()).toEqual([...called].sort());
    expect([...documented].sort()).toEqual([...HOST_FUNCTIONS].sort());
  });

  it('every facade entry point in host-contract.md is exercised by some transcript, and vice versa', () => {
    const documented = headings('Facade');
    const stepped = new Set(transcripts.flatMap((t) => t.steps.map((s) => s.call)));
    expect([...documented].sort()).toEqual([...stepped].sort());
  });

  it('host-contract.d.ts declares every host function', () => {
    const at = dts.indexOf('export interface BridgeHost');
    const iface = dts.slice(at, dts.indexOf('\n}', at));
    const declared = new Set([...iface.matchAll(/^\s+(\w+)\(/gm)].map((m) => m[1]!));
    expect([...declared].sort()).toEqual([...HOST_FUNCTIONS].sort());
  });

  it('every error code in the contract exists in ErrorCodes, and every code a transcript reports is documented', () => {
    const table = md.slice(md.indexOf('## Error codes'), md.indexOf('## Conformance'));
    const documented = new Set([...table.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]!));
    for (const c of documented) expect(Object.values(ErrorCodes), c).toContain(c);
    const seen = new Set<string>();
    for (const t of transcripts) {
      for (const e of t.expected ?? []) {
        const err = (e.error ?? (e.reply as { err?: unknown } | undefined)?.err) as { code?: string } | undefined;
        if (err?.code && err.code !== 'NO_CORE' && err.code !== 'EIO') seen.add(err.code);
        const v = (e.value ?? (e.fn === 'contentReady' ? (e.args as unknown[])[1] : undefined)) as { errors?: string[] } | undefined;
        for (const c of v?.errors ?? []) seen.add(c);
      }
    }
    expect(seen.size).toBeGreaterThan(8);
    for (const c of seen) expect([...documented], c).toContain(c);
  });
});

describe('bundle', () => {
  let b: Awaited<ReturnType<typeof buildTempBundle>>;
  beforeAll(async () => {
    b = await buildTempBundle();
  });
  afterAll(() => b?.cleanup());

  it('contains no Node-only references (require(, import, process., Buffer, node:)', () => {
    expect(scanBundle(b.code)).toEqual([]);
    // The scanner is word-bounded (xstate's `this._process.` and `ArrayBuffer` are fine); prove it bites.
    expect(scanBundle('x=require("fs");process.env;Buffer.from("");import("node:fs")').length).toBeGreaterThanOrEqual(4);
    expect(scanBundle('import{a}from"./a.js";')).not.toEqual([]);
    expect(scanBundle('import x from "y";')).not.toEqual([]);
    expect(scanBundle('log("pending inbox imported")')).toEqual([]);
  });

  it('is one IIFE defining NsekitCore, minified, with a version/hash banner and a source map', () => {
    const first = b.code.split('\n')[0]!;
    expect(first).toMatch(new RegExp(`^/\\*! nsekit-core ${b.version.replace(/\./g, '\\.')} sha256:[0-9a-f]{64} \\*/$`));
    expect(first).toContain(b.sha256);
    expect(b.code).toMatch(/^"use strict";var NsekitCore=\(\(\)=>\{/m);
    expect(b.code).not.toMatch(/\n {2,}\w/); // minified: no indented source lines
    expect(JSON.parse(readFileSync(b.outfile + '.map', 'utf8')).sources.some((s: string) => s.includes('src/core/bridge/index.ts'))).toBe(true);
  });

  it('stays within the 120 KB target', () => {
    expect(b.bytes / 1024).toBeLessThanOrEqual(120);
  });
});
