import type { CheckResult } from '../checkers/index.js';
import type { Validity, Verdict } from '../checkers/types.js';
import type { History, Op } from '../history/types.js';
import { REPORT_CSS, REPORT_JS } from './html-assets.js';
import { buildTimeline, LANES } from './timeline.js';

export interface ReportMeta {
  scenario?: string;
  seed?: number | string;
  /** The command that replays this run, shown verbatim. */
  replay?: string;
  mode?: string;
  /** Derived run parameters (budgets, time factor…), shown as JSON. */
  params?: Record<string, unknown>;
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
  const data = {
    meta,
    valid: Array.isArray(verdicts) ? combined(vs) : (verdicts as CheckResult).valid,
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
<header id="head"></header>
<noscript><p>This report draws its timeline and tables with inline JavaScript; enable JavaScript to see them.</p></noscript>
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
