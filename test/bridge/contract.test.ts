import { readFileSync } from 'node:fs';
import { decodeRelayMessage } from '../../src/core/bridge/adapters.js';
import type { WireRelayMessage } from '../../src/core/bridge/contract.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanBundle } from '../../ios-bridge/build.js';
import { roleOf, transcriptFiles, type Transcript } from '../../ios-bridge/conformance/node-runner.js';
import { APP_HOST_FUNCTIONS, NSE_HOST_FUNCTIONS } from '../../src/core/bridge/contract.js';
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

const ALL_HOST_FUNCTIONS = new Set<string>([...NSE_HOST_FUNCTIONS, ...APP_HOST_FUNCTIONS]);
const calledBy = (ts: Transcript[]) => new Set(ts.flatMap((t) => (t.expected ?? []).map((e) => e.fn as string).filter(Boolean)));

/** Method names declared in one `export interface X … {` block of the .d.ts. */
function declared(name: string): Set<string> {
  const at = dts.indexOf(`export interface ${name} `);
  expect(at, name).toBeGreaterThanOrEqual(0);
  const iface = dts.slice(at, dts.indexOf('\n}', at));
  return new Set([...iface.matchAll(/^\s+(\w+)\(/gm)].map((m) => m[1]!));
}

describe('host contract', () => {
  it('the host functions named in host-contract.md are exactly those the transcripts call, and both roles\' lists', () => {
    const documented = headings('Host functions');
    expect([...documented].sort()).toEqual([...calledBy(transcripts)].sort());
    expect([...documented].sort()).toEqual([...ALL_HOST_FUNCTIONS].sort());
  });

  it("each role's transcripts call only that role's host functions", () => {
    for (const [role, fns] of [['nse', NSE_HOST_FUNCTIONS], ['app', APP_HOST_FUNCTIONS]] as const) {
      const called = calledBy(transcripts.filter((t) => roleOf(t) === role));
      for (const f of called) expect(fns as readonly string[], `${role} calls ${f}`).toContain(f);
    }
  });

  it('every facade entry point in host-contract.md is exercised by some transcript, and vice versa', () => {
    const documented = headings('Facade');
    const stepped = new Set(transcripts.flatMap((t) => t.steps.filter((s) => s.call).map((s) => s.call)));
    expect([...documented].sort()).toEqual([...stepped].sort());
  });

  it('host-contract.d.ts declares every host function, per role', () => {
    const base = declared('BridgeHostBase');
    expect([...base, ...declared('NseBridgeHost')].sort()).toEqual([...NSE_HOST_FUNCTIONS].sort());
    expect([...base, ...declared('AppBridgeHost')].sort()).toEqual([...APP_HOST_FUNCTIONS].sort());
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
    expect(scanBundle('t.errorEvent("inbox import",r)')).toEqual([]);
    expect(scanBundle('a();import"./side.js";')).not.toEqual([]);
    expect(scanBundle('}import*as x from"y"')).not.toEqual([]);
  });

  it('each is one IIFE defining NsekitCore, minified, with a name/version/hash banner and a source map', () => {
    for (const [role, x] of [['nse', b], ['app', b.app]] as const) {
      expect(scanBundle(x.code)).toEqual([]);
      const first = x.code.split('\n')[0]!;
      expect(first).toMatch(new RegExp(`^/\\*! nsekit-${role} ${x.version.replace(/\./g, '\\.')} sha256:[0-9a-f]{64} \\*/$`));
      expect(first).toContain(x.sha256);
      expect(x.code).toMatch(/^"use strict";var NsekitCore=\(\(\)=>\{/m);
      expect(x.code).not.toMatch(/\n {2,}\w/); // minified: no indented source lines
      expect(JSON.parse(readFileSync(x.outfile + '.map', 'utf8')).sources.some((s: string) => s.includes(`src/core/bridge/${role}.ts`))).toBe(true);
    }
  });

  it('the NSE bundle carries nothing of the app session', () => {
    // Names only the app's code has (minification keeps strings and property names).
    for (const s of ['storeGetCursor', 'transportSubscribe', 'inboxClaim', 'wake reason', 'drain start', 'status poll']) {
      expect(b.app.code, s).toContain(s);
      expect(b.code, s).not.toContain(s);
    }
  });

  it('the app bundle signs with the bridge signer, not @noble/curves; the NSE bundle has neither', () => {
    const sources = (x: { outfile: string }) => (JSON.parse(readFileSync(x.outfile + '.map', 'utf8')) as { sources: string[] }).sources;
    expect(sources(b.app).some((f) => f.includes('@noble/curves'))).toBe(false);
    expect(sources(b.app).some((f) => f.endsWith('src/core/bridge/ed25519-sign.ts'))).toBe(true);
    expect(sources(b).some((f) => f.includes('@noble/curves') || f.endsWith('ed25519-sign.ts'))).toBe(false);
  });

  it('the NSE bundle stays within the 120 KB target', () => {
    expect(b.bytes / 1024).toBeLessThanOrEqual(120);
  });
});

describe('relay message flag', () => {
  it('`notification` absent counts as true (as senders default it and the runner\'s model sends); false stays false', () => {
    const w = { msgId: 'm1', queueId: 'q1', ts: 1, body: 'AAAA' };
    expect(decodeRelayMessage('transportGet', w as WireRelayMessage, 'q1')!.flags.notification).toBe(true);
    expect(decodeRelayMessage('transportGet', { ...w, notification: false }, 'q1')!.flags.notification).toBe(false);
    expect(decodeRelayMessage('transportGet', { ...w, notification: true }, 'q1')!.flags.notification).toBe(true);
  });
});

describe('host-setup.md closes the contract gaps a host author hit (issue 13)', () => {
  const setup = readFileSync(join(ROOT, 'ios-bridge/host-setup.md'), 'utf8');
  const contract = readFileSync(join(ROOT, 'ios-bridge/host-contract.md'), 'utf8');
  it.each([
    ['the iOS floor and why', /iOS 15\.4[\s\S]*Object\.hasOwn/],
    ['the inbox record line format', /\{"v":1,"msgId":"m1","queueId":"q1","ts":\d+,"flags":1,"sealed":/],
    ['torn tail: newline before appending', /Before appending, a writer must make sure the file\s+ends in `\\n`/],
    ['the push payload', /userInfo\["nids"\]/],
    ['where the store key comes from', /store key \(\+ SQLCipher salt\)/],
    ['STORE_CLOSED is the core\'s', /A host does not answer `STORE_CLOSED` for a closed connection/],
    ['how an NSE learns lock/unlock', /at every `didReceive`, before `didReceiveNotification`/],
    ['import at launch and retry', /at launch[\s\S]*retry a failed import/],
    ['contentHandler on contentReady', /never from the\s+`didReceiveNotification` promise/],
    ['poison messages', /Poison messages block their queue/],
    ['no initial phaseChanged', /No initial `phaseChanged`/],
    ['JSGarbageCollect', /JSGarbageCollect/],
  ])('%s', (_what, re) => {
    expect(setup).toMatch(re);
  });
  it('the contract points to it, and states the notification flag default', () => {
    expect(contract).toContain('host-setup.md');
    expect(contract).toMatch(/if it is absent\s+the core reads \*\*`true`\*\*/);
  });
});
