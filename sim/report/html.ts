import type { CheckResult } from '../checkers/index.js';
import type { Validity, Verdict } from '../checkers/types.js';
import type { History, Op } from '../history/types.js';
import { REPORT_CSS, REPORT_JS } from './html-assets.js';
import type { ReportStory } from './story.js';
import { buildTimeline, LANES } from './timeline.js';

export interface ReportMeta {
  scenario?: string;
  seed?: number | string;
  /** The command that replays this run, shown verbatim. */
  replay?: string;
  mode?: string;
  /** Derived run parameters (budgets, time factor…), shown as JSON. */
  params?: Record<string, unknown>;
  /** The scenario's story, expectations, harness errors, variant (./story.ts). */
  story?: ReportStory;
  /** The run's verdict when it is not the checkers' alone (a harness error makes it unknown). */
  verdict?: Validity;
  exitCode?: number;
  /** Each process's log, relative to the report (real mode: `app.log`, `nse.log`, …). */
  logs?: string[];
}

/** Above this many ops the report embeds only the ops violations point at. */
const MAX_EMBEDDED_OPS = 5000;

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
/** JSON safe inside <script>: no "</script>", no line separators. */
function scriptJson(x: unknown): string {
  return JSON.stringify(x).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** Large values (snapshots) are embedded as a truncated JSON string. */
function clip(v: unknown): unknown {
  if (v === undefined) return undefined;
  const s = JSON.stringify(v);
  return s.length > 2000 ? s.slice(0, 2000) + '…' : v;
}

function combined(vs: readonly Verdict[]): Validity {
  return vs.some((v) => v.valid === false) ? false : vs.some((v) => v.valid === 'unknown') ? 'unknown' : true;
}

export const VERDICT_WORD = (v: Validity): 'valid' | 'INVALID' | 'unknown' => (v === true ? 'valid' : v === false ? 'INVALID' : 'unknown');

/**
 * Where the timeline opens: the first op of a process other than the orchestrator, less a
 * small margin — not 0, where the world's start-up and the app's launch (hundreds of ms in
 * real mode) would squeeze the run into the right of the view. "whole run" shows everything.
 */
export function activityStart(history: History, tEnd: number): number {
  const first = history.find((o) => o.proc !== 'orchestrator');
  if (!first) return 0;
  return Math.max(0, first.time - (tEnd - first.time) * 0.02);
}

function headerHtml(meta: ReportMeta, valid: Validity, events: number, tEnd: number): string {
  const w = VERDICT_WORD(valid);
  const item = (k: string, v: unknown) => (v === undefined || v === null ? '' : `<span>${escapeHtml(k)}: ${escapeHtml(String(v))}</span>`);
  const logs = (meta.logs ?? []).map((f) => `<a class="log" href="${escapeHtml(encodeURI(f))}">${escapeHtml(f)}</a>`).join(' ');
  return `<header id="head">
<h1>nsekit simulator — ${escapeHtml(meta.scenario ?? 'run')}</h1>
<div id="summary"><span>verdict: <b id="verdict" class="badge v-${String(valid)}" data-valid="${String(valid)}">${w}</b></span>${item('exit', meta.exitCode)}${item('seed', meta.seed)}${item('mode', meta.mode)}${meta.story?.broken ? `<span class="broken">broken variant: ${escapeHtml(meta.story.broken)}</span>` : ''}${item('events', events)}${item('duration', `${Math.round(tEnd * 1000) / 1000} ms`)}
${meta.params ? `<span class="mono">${escapeHtml(JSON.stringify(meta.params))}</span>` : ''}</div>
${logs ? `<div id="logs">logs: ${logs}</div>` : ''}
${meta.replay ? `<pre id="replay">${escapeHtml(meta.replay)}</pre>` : ''}
</header>`;
}

function storyHtml(meta: ReportMeta): string {
  const s = meta.story;
  if (!s) return '';
  const parts: string[] = [];
  if (s.broken) parts.push(`<p class="alert" id="broken">This run uses the deliberately <b>broken variant ${escapeHtml(s.broken)}</b>: violations are what it is for (docs/fast-mode.md, "Broken variants").</p>`);
  if (s.harness.length) {
    parts.push(`<div class="alert" id="harness"><b>Harness errors — the race was not exercised as written, so the run proves nothing either way:</b><ul>${s.harness.map((h) => `<li class="mono">${escapeHtml(h)}</li>`).join('')}</ul></div>`);
  }
  if (s.description) parts.push(`<p id="description">${escapeHtml(s.description)}</p>`);
  if (s.expectations.length) {
    parts.push(`<h3>Expectations: <span class="badge v-${s.expectMet}" id="expect-met">${s.expectMet ? 'met' : 'NOT met'}</span></h3><ul id="expectations">${s.expectations
      .map((x) => `<li class="${x.met ? 'met' : 'not-met'}" data-met="${x.met}">${x.met ? '✓ met' : '✗ not met'}: ${escapeHtml(x.what)}${x.got ? ` (${escapeHtml(x.got)})` : ''}</li>`)
      .join('')}</ul>`);
  } else parts.push('<p>The scenario states no expectations.</p>');
  parts.push(`<h3>Steps</h3><ol id="steps">${s.steps.map((x) => `<li class="mono">${escapeHtml(x)}</li>`).join('')}</ol>`);
  return `<section id="story"><h2>Scenario</h2>${parts.join('\n')}</section>`;
}

/**
 * One self-contained HTML file: inline CSS, inline data, inline JS that draws
 * an SVG timeline (a lane group per process, phases shaded, lock holds, write
 * transactions, ops, freeze/thaw/kill marks, violations in red, message flows)
 * plus the verdict table, the seed and the replay command. No external URLs.
 */
export function toHtmlReport(history: History, verdicts: CheckResult | readonly Verdict[], meta: ReportMeta = {}): string {
  const vs: readonly Verdict[] = Array.isArray(verdicts) ? verdicts : (verdicts as CheckResult).verdicts;
  const tl = buildTimeline(history, vs);
  const used: Record<string, string[]> = {};
  for (const s of tl.spans) (used[s.proc] ??= []).includes(s.lane) || used[s.proc]!.push(s.lane);
  const rowsOf: Record<string, number> = {};
  for (const s of tl.spans) rowsOf[`${s.proc}/${s.lane}`] = Math.max(rowsOf[`${s.proc}/${s.lane}`] ?? 1, s.row + 1);
  const bad = [...new Set(vs.flatMap((v) => v.violations.flatMap((x) => x.ops)))].sort((a, b) => a - b);
  const ops: Op[] = history.length <= MAX_EMBEDDED_OPS ? [...history] : bad.map((i) => history[i]!).filter(Boolean);
  const valid = meta.verdict ?? (Array.isArray(verdicts) ? combined(vs) : (verdicts as CheckResult).valid);
  const data = {
    meta,
    valid,
    tStart: activityStart(history, tl.tEnd),
    events: history.length,
    tEnd: tl.tEnd,
    lanes: LANES,
    procs: tl.procs,
    used,
    rowsOf,
    verdicts: vs,
    spans: tl.spans.map((s) => ({ ...s, value: clip(s.value) })),
    marks: tl.marks,
    flows: tl.flows.map((f) => ({ msgId: f.msgId, points: f.points.map((p) => ({ proc: p.span.proc, lane: p.span.lane, row: p.span.row, t: p.t, name: p.span.name })) })),
    ops,
    bad,
  };
  const title = `nsekit sim — ${meta.scenario ?? 'run'}${meta.seed !== undefined ? ` seed ${meta.seed}` : ''}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
${headerHtml(meta, valid, history.length, tl.tEnd)}
<noscript><p>This report draws its timeline and tables with inline JavaScript; enable JavaScript to see them.</p></noscript>
${storyHtml(meta)}
<section><h2>Verdicts</h2>
<table id="verdicts"><thead><tr><th>invariant</th><th>kind</th><th>verdict</th><th>violations</th><th>notes</th></tr></thead><tbody></tbody></table></section>
<section><h2>Timeline</h2>
<div id="controls"><button id="zoom-in" title="zoom in">+</button> <button id="zoom-out" title="zoom out">&minus;</button> <button id="zoom-reset" title="show the whole run">whole run</button> <span class="sub">drag across the timeline to zoom into a time range</span>
<label><input type="checkbox" id="show-flows" checked> message flows</label></div>
<div id="timeline-wrap"><svg id="timeline"></svg></div>
<div id="legend"></div></section>
<section><h2>Operations${history.length > MAX_EMBEDDED_OPS ? ' referenced by violations' : ''}</h2>
<table id="ops"><thead><tr><th>#</th><th>ms</th><th>proc</th><th>type</th><th>f</th><th>phase</th><th>value</th><th>error</th></tr></thead><tbody></tbody></table></section>
<script type="application/json" id="nsekit-data">${scriptJson(data)}</script>
<script>${REPORT_JS}</script>
</body>
</html>
`;
}
