import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { transcriptFiles, type Transcript } from '../../ios-bridge/conformance/node-runner.js';
import { APP_HOST_FUNCTIONS, NSE_HOST_FUNCTIONS } from '../../src/core/bridge/contract.js';

/**
 * The Swift reference host (ios-bridge/swift/, documentation code: no Swift compiler here) must
 * implement everything the contract names, so an iOS engineer can build both roles from it. This
 * reads the contract's lists (src/core/bridge/contract.ts, the .d.ts's facades) and checks the Swift
 * text mechanically: every host function registered on the host object with the contract's arity
 * and sync/async shape, every facade entry point called by the glue (or listed in the README as not
 * called by a host), every session event a host acts on handled, and ConformanceReplay.swift able to
 * answer every host function and every reply/step form the transcripts use.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SWIFT = join(ROOT, 'ios-bridge/swift');
const swift = (f: string) => readFileSync(join(SWIFT, f), 'utf8');
const swiftFiles = readdirSync(SWIFT).filter((f) => f.endsWith('.swift'));
const contractTs = readFileSync(join(ROOT, 'src/core/bridge/contract.ts'), 'utf8');
const dts = readFileSync(join(ROOT, 'ios-bridge/host-contract.d.ts'), 'utf8');
const md = readFileSync(join(ROOT, 'ios-bridge/host-contract.md'), 'utf8');
const readme = swift('README.md');
const transcripts = transcriptFiles().map((f) => JSON.parse(readFileSync(f, 'utf8')) as Transcript);

/** Split at top-level commas (brackets, braces, parens and generics nest; `=>` is no bracket). */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if ('([{<'.includes(c)) depth++;
    else if (')]}'.includes(c) || (c === '>' && s[i - 1] !== '=' && s[i - 1] !== '-')) depth--;
    if (c === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += c;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** The text inside the parentheses opening at `open` (balanced). */
function balanced(s: string, open: number): string {
  let depth = 0;
  for (let i = open; i < s.length; i++) {
    if (s[i] === '(') depth++;
    else if (s[i] === ')' && --depth === 0) return s.slice(open + 1, i);
  }
  throw new Error(`unbalanced at ${open}`);
}

interface Sig {
  params: string[];
  /** The declared return type ('void' for none). */
  ret: string;
}

/** Methods of one `export interface X … {` block: `name(params): ret;` on one line each. */
function methods(src: string, iface: string): Map<string, Sig> {
  const at = src.indexOf(`export interface ${iface} `);
  expect(at, iface).toBeGreaterThanOrEqual(0);
  const body = src.slice(at, src.indexOf('\n}', at));
  const out = new Map<string, Sig>();
  for (const m of body.matchAll(/^ {2}(\w+)\(/gm)) {
    const open = m.index! + m[0].length - 1;
    const inner = balanced(body, open);
    const rest = body.slice(open + inner.length + 2);
    out.set(m[1]!, { params: splitTop(inner), ret: /^:\s*([^;\n]+);/.exec(rest)?.[1]!.trim() ?? '?' });
  }
  return out;
}

const contractSigs = new Map<string, Sig>([
  ...methods(contractTs, 'BridgeHostBase'),
  ...methods(contractTs, 'NseBridgeHost'),
  ...methods(contractTs, 'AppBridgeHost'),
]);
const ALL = [...new Set<string>([...NSE_HOST_FUNCTIONS, ...APP_HOST_FUNCTIONS])];
const isAsync = (s: Sig) => /^done: Done</.test(s.params.at(-1) ?? '');

/** The host files: the ones that register functions on the host object (`set("name", { … } as @convention(block) (…) -> R)`). */
const hostFiles = swiftFiles.filter((f) => f.startsWith('NsekitHost'));

interface Registration {
  file: string;
  params: string[];
  ret: string;
  body: string;
}
function registrations(): Map<string, Registration[]> {
  const out = new Map<string, Registration[]>();
  for (const file of hostFiles) {
    const src = swift(file);
    const sets = [...src.matchAll(/\bset\("(\w+)",/g)];
    sets.forEach((m, i) => {
      const end = i + 1 < sets.length ? sets[i + 1]!.index! : src.length;
      const chunk = src.slice(m.index!, end);
      const conv = chunk.indexOf('@convention(block) (');
      expect(conv, `${file}: set("${m[1]}") has no @convention(block) signature`).toBeGreaterThan(0);
      const open = conv + '@convention(block) '.length;
      const inner = balanced(chunk, open);
      const ret = /^\s*->\s*([\w?\[\]: ]+?)\)/.exec(chunk.slice(open + inner.length + 2))?.[1]?.trim() ?? '?';
      const list = out.get(m[1]!) ?? [];
      list.push({ file, params: inner.trim() ? splitTop(inner) : [], ret, body: chunk.slice(0, conv) });
      out.set(m[1]!, list);
    });
  }
  return out;
}

describe('Swift reference host: the host object (NsekitHost*.swift)', () => {
  const regs = registrations();

  it('the contract lists parse (every host function has a signature)', () => {
    expect(hostFiles).toContain('NsekitHost.swift');
    for (const f of ALL) expect(contractSigs.get(f), f).toBeDefined();
    expect(ALL.length).toBeGreaterThanOrEqual(34);
  });

  it.each(ALL)('registers %s once, with the contract\'s arity and sync/async shape', (name) => {
    const list = regs.get(name) ?? [];
    expect(list.length, `${name} registered ${list.length} times in ${hostFiles.join(', ')}`).toBe(1);
    const r = list[0]!;
    const c = contractSigs.get(name)!;
    expect(r.params.length, `${name}: Swift (${r.params.join(', ')}) vs contract (${c.params.join(', ')})`).toBe(c.params.length);
    if (isAsync(c)) {
      // done last, answered later on the JS queue through finish(done, …), nothing returned.
      expect(r.params.at(-1), name).toBe('JSValue');
      expect(r.ret, name).toBe('Void');
      expect(r.body, `${name} answers through finish(done, …)`).toMatch(/\bfinish\(done,/);
    } else {
      expect(r.ret === 'Void', `${name} returns ${r.ret}, contract ${c.ret}`).toBe(c.ret === 'void');
    }
    // Callbacks the core hands over (fire, onClose, onEnd, onMessage) arrive as JSValue.
    c.params.forEach((p, i) => {
      if (/=>/.test(p)) expect(r.params[i], `${name} param ${i} (${p})`).toBe('JSValue');
    });
  });

  it('registers nothing the contract does not name', () => {
    const extra = [...regs.keys()].filter((n) => !ALL.includes(n));
    expect(extra).toEqual([]);
  });

  it('NsekitHost.swift installs the NSE\'s functions, NsekitHost+App.swift the app\'s own (the NSE host carries none of them)', () => {
    const inFile = (f: string) => [...regs].filter(([, l]) => l.some((r) => r.file === f)).map(([n]) => n).sort();
    expect(inFile('NsekitHost.swift')).toEqual([...NSE_HOST_FUNCTIONS].sort());
    const appOnly = APP_HOST_FUNCTIONS.filter((f) => !(NSE_HOST_FUNCTIONS as readonly string[]).includes(f));
    expect(inFile('NsekitHost+App.swift')).toEqual([...appOnly].sort());
    expect(swift('NsekitHost.swift')).toMatch(/if role == "app" \{ installAppFunctions\(set\) \}/);
  });
});

describe('Swift reference host: the glue calls every facade entry point', () => {
  /** Facade methods from the .d.ts, checked against the bundles' own interfaces. */
  const facade = (iface: string, src: string) => {
    const declared = [...methods(dts, iface).keys()];
    const source = [...methods(readFileSync(join(ROOT, src), 'utf8'), iface).keys()];
    expect(declared.sort(), `${iface}: host-contract.d.ts vs ${src}`).toEqual(source.sort());
    return declared;
  };
  /** `Facade calls the reference glue does not make: \`a()\` (why), …` in the README. */
  const notCalled = (() => {
    const line = /^Facade calls the reference glue does not make:(.*)$/m.exec(readme)?.[1] ?? '';
    return new Set([...line.matchAll(/`(\w+)\(/g)].map((m) => m[1]!));
  })();
  /** host.call("x" / h.call("x" / call("x" in a glue file. */
  const calls = (file: string) => new Set([...swift(file).matchAll(/\bcall\("(\w+)"/g)].map((m) => m[1]!));

  for (const [role, iface, src, glue] of [
    ['nse', 'NseCoreApi', 'src/core/bridge/nse.ts', 'NotificationService.swift'],
    ['app', 'AppCoreApi', 'src/core/bridge/app.ts', 'AppLifecycle.swift'],
  ] as const) {
    it(`${role}: ${glue} calls each ${iface} method, or the README says why a host does not`, () => {
      const api = facade(iface, src);
      expect(api.length).toBeGreaterThanOrEqual(role === 'app' ? 12 : 7);
      const made = calls(glue);
      const missing = api.filter((m) => !made.has(m) && !notCalled.has(m));
      expect(missing, `${glue} never calls these (nor does the README list them as not called)`).toEqual([]);
      // No typo'd or stale names: every call names a method of this role's facade.
      expect([...made].filter((m) => !api.includes(m))).toEqual([]);
    });
  }

  it('the README\'s "not called" list names only facade methods, and not ones the glue does call', () => {
    const all = new Set([...methods(dts, 'NseCoreApi').keys(), ...methods(dts, 'AppCoreApi').keys()]);
    for (const n of notCalled) expect(all.has(n), n).toBe(true);
    for (const n of notCalled) {
      expect(calls('NotificationService.swift').has(n) || calls('AppLifecycle.swift').has(n), `${n} is called after all`).toBe(false);
    }
  });

  it('the app glue handles every session event host-contract.md says a host acts on', () => {
    const at = md.indexOf('### `sessionEvent(name, fields)`');
    const section = md.slice(at, md.indexOf('\n## ', at));
    const acted = [...section.matchAll(/^- `([\w-]+)`([^\n]*(?:\n {2}[^\n]*)*)/gm)]
      .filter((m) => !/diagnostic/.test(m[2]!))
      .map((m) => m[1]!);
    // `thread-read` and `badge` share the last bullet.
    const extra = [...section.matchAll(/`(thread-read|badge)`/g)].map((m) => m[1]!);
    const events = [...new Set([...acted, ...extra])];
    expect(events).toEqual(expect.arrayContaining(['left-front', 'notification', 'error', 'bg-refresh', 'local-notification', 'thread-read', 'badge']));
    const app = swift('AppLifecycle.swift');
    for (const e of events) expect(app, `case "${e}"`).toMatch(new RegExp(`case "${e}"`));
  });
});

describe('Swift reference host: ConformanceReplay.swift answers what the transcripts use', () => {
  const replay = swift('ConformanceReplay.swift');
  const runner = readFileSync(join(ROOT, 'ios-bridge/conformance/runner.js'), 'utf8');
  const swiftList = (name: string) => {
    const m = new RegExp(`static let ${name} = \\[([^\\]]*)\\]`).exec(replay);
    expect(m, name).not.toBeNull();
    return [...m![1]!.matchAll(/"(\w+)"/g)].map((x) => x[1]!);
  };

  it('its async functions are runner.js\'s ASYNC_FNS', () => {
    const m = /var ASYNC_FNS = \[([^\]]*)\]/.exec(runner);
    const runnerAsync = [...m![1]!.matchAll(/'(\w+)'/g)].map((x) => x[1]!);
    expect(swiftList('asyncFns').sort()).toEqual(runnerAsync.sort());
  });

  it('its scripted host has every contract host function (async, record-only or a sync one with a return)', () => {
    const installed = new Set([...swiftList('asyncFns'), ...swiftList('recordOnly'), ...[...replay.matchAll(/\bset\("(\w+)"/g)].map((m) => m[1]!)]);
    expect(ALL.filter((f) => !installed.has(f))).toEqual([]);
    // Async in the contract = async in the replay (it must schedule the reply, not return it).
    for (const f of ALL) expect(swiftList('asyncFns').includes(f), f).toBe(isAsync(contractSigs.get(f)!));
  });

  it('it reads every reply field, expected-entry field, host step and callback the transcripts use or the contract documents', () => {
    // What host-contract.md "Conformance" says a transcript may hold (some no transcript uses yet).
    const conformance = md.slice(md.indexOf('## Conformance'), md.indexOf('\n## ', md.indexOf('## Conformance') + 3));
    const documented = { reply: ['result', 'err', 'after', 'cb', 'throws', 'twice'], steps: ['deliver', 'close'], cbs: ['onMessage', 'onClose', 'onEnd'] };
    for (const w of [...documented.reply, ...documented.steps, ...documented.cbs]) expect(conformance, w).toMatch(new RegExp(`\\b${w}\\b`));
    const replyKeys = new Set<string>(documented.reply);
    const syncKeys = new Set<string>();
    const hostSteps = new Set<string>(documented.steps);
    const cbs = new Set<string>(documented.cbs);
    for (const t of transcripts) {
      for (const s of t.steps) if (typeof s.host === 'string') hostSteps.add(s.host);
      for (const e of t.expected ?? []) {
        const r = e.reply as Record<string, unknown> | undefined;
        if (r) for (const k of Object.keys(r)) replyKeys.add(k);
        for (const c of (r?.cb as { cb: string }[] | undefined) ?? []) cbs.add(c.cb);
        if (typeof e.cb === 'string') cbs.add(e.cb);
        if (e.fn && !r) for (const k of ['ret', 'throws']) if (k in e) syncKeys.add(k);
      }
    }
    // Every documented form is exercised by some transcript (42-app-sub-deliveries-close: reply cb, close; 43-app-sub-end: onEnd).
    const used = (f: (e: Record<string, unknown>, r?: Record<string, unknown>) => string[]) =>
      new Set(transcripts.flatMap((t) => (t.expected ?? []).flatMap((e) => f(e, e.reply as Record<string, unknown> | undefined))));
    expect([...used((_e, r) => (r ? Object.keys(r) : []))].sort()).toEqual([...documented.reply].sort());
    expect([...used((e, r) => [...(typeof e.cb === 'string' ? [e.cb] : []), ...((r?.cb as { cb: string }[] | undefined) ?? []).map((c) => c.cb)])].sort()).toEqual([...documented.cbs].sort());
    expect([...new Set(transcripts.flatMap((t) => t.steps.map((s) => s.host).filter(Boolean)))].sort()).toEqual([...documented.steps].sort());
    expect([...hostSteps].sort()).toEqual(['close', 'deliver']);
    expect([...cbs].sort()).toEqual(['onClose', 'onEnd', 'onMessage']);
    // Read in Swift (`r["after"]`) or in its JS helper (`r.twice`: done is answered inside one JS call).
    for (const k of replyKeys) expect(replay, `reply field ${k}`).toMatch(new RegExp(`\\br\\["${k}"\\]|\\br\\.${k}\\b`));
    for (const k of syncKeys) expect(replay, `["${k}"]`).toContain(`["${k}"]`);
    for (const s of hostSteps) expect(replay, `host step "${s}"`).toContain(`"${s}"`);
    for (const c of cbs) expect(replay, `callback "${c}"`).toContain(`"${c}"`);
    // hostOmit is honoured.
    expect(replay).toContain('world["hostOmit"]');
  });
});

describe('Swift reference host: README', () => {
  it('lists every .swift file in its table, and claims nothing is missing that the checks above cover', () => {
    for (const f of swiftFiles) expect(readme, f).toMatch(new RegExp(`^\\| \`${f.replace(/[.+]/g, '\\$&')}\` \\|`, 'm'));
    expect(readme).not.toMatch(/Not yet in the reference host/);
  });
});
