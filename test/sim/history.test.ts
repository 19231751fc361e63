import { mkdtempSync, readFileSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isNsekitError } from '../../src/core/errors.js';
import { HistoryRecorder, pairOps, parseHistory, readHistory, toJsonl } from '../../sim/history/index.js';
import { validRun } from './fixtures.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('HistoryRecorder', () => {
  it('numbers ops, streams one JSONL line per op, and notifies listeners', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsekit-hist-'));
    dirs.push(dir);
    const file = join(dir, 'history.jsonl');
    let t = 0;
    const r = new HistoryRecorder({ file, now: () => t++ });
    const seen: number[] = [];
    r.onOp((op) => seen.push(op.index));
    r.invoke('nse', 'get', { queueId: 'q1' }, { pid: 7 });
    r.ok('nse', 'get', { queueId: 'q1', msgId: 'm1' }, { pid: 7 });
    r.fail('app', 'ack', 'PROTO_TIMEOUT', { msgId: 'm1' });
    r.info('orchestrator', 'freeze', { proc: 'nse' });
    r.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[2]!)).toEqual({ index: 2, time: 2, proc: 'app', type: 'fail', f: 'ack', value: { msgId: 'm1' }, error: 'PROTO_TIMEOUT' });
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(readHistory(file)).toEqual({ ops: [...r.history], torn: false });
  });
  it('the reader skips a torn last line but rejects a bad line in the middle', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsekit-hist-'));
    dirs.push(dir);
    const file = join(dir, 'h.jsonl');
    const ops = validRun().ops.slice(0, 3);
    appendFileSync(file, toJsonl(ops) + '{"index":3,"time":1,"pro');
    expect(readHistory(file)).toEqual({ ops, torn: true });
    let err: unknown;
    try {
      parseHistory(toJsonl(ops.slice(0, 1)) + '{"index":1}\n' + toJsonl(ops.slice(2)));
    } catch (e) {
      err = e;
    }
    expect(isNsekitError(err, 'HISTORY_BAD_LINE')).toBe(true);
    expect((err as Error).message).toContain('line 2');
  });
});

describe('pairOps', () => {
  it('pairs invokes with completions FIFO per proc/pid/f, by ref when given, and keeps lone ops', () => {
    const r = new HistoryRecorder({ now: () => 0 });
    r.invoke('nse', 'get', { queueId: 'a' }, { ref: 1 });
    r.invoke('nse', 'get', { queueId: 'b' }, { ref: 2 });
    r.ok('nse', 'get', { msgId: 'mb' }, { ref: 2 });
    r.info('orchestrator', 'freeze');
    r.invoke('app', 'ack');
    r.ok('nse', 'get', { msgId: 'ma' }, { ref: 1 });
    const p = pairOps(r.history);
    expect(p.map((x) => [x.invoke?.index, x.complete?.index])).toEqual([
      [0, 5],
      [1, 2],
      [undefined, 3],
      [4, undefined],
    ]);
  });
});

describe('opFromFailpoint', () => {
  it('maps every FAILPOINT to an op the checkers understand, and unknown names to fp:<name>', async () => {
    const { opFromFailpoint, FAILPOINT_OP_MAP } = await import('../../sim/history/index.js');
    const { FAILPOINTS } = await import('../../sim/scenario/index.js');
    expect(Object.keys(FAILPOINT_OP_MAP).sort()).toEqual([...FAILPOINTS].sort());
    expect(opFromFailpoint('nse', 9, 'net.get.ok', { queueId: 'q', msgId: 'm' })).toEqual({ proc: 'nse', pid: 9, type: 'ok', f: 'get', value: { queueId: 'q', msgId: 'm' }, fp: 'net.get.ok' });
    expect(opFromFailpoint('app', 3, 'db.write.done', { msgId: 'm', duplicate: true }).value).toEqual({ msgId: 'm', duplicate: true, inserted: false });
    expect(opFromFailpoint('app', undefined, 'x.y', { a: 1 })).toEqual({ proc: 'app', type: 'info', f: 'fp:x.y', value: { a: 1 }, fp: 'x.y' });
  });
  it('a history built only from failpoint hits is checked: freeze between lock.acquired and lock.released is caught', async () => {
    const { opFromFailpoint } = await import('../../sim/history/index.js');
    const { checkNoDead10cc, checkGates } = await import('../../sim/checkers/index.js');
    const r = new HistoryRecorder({ now: () => 0 });
    r.append(opFromFailpoint('nse', 5, 'phase.enter', { phase: 'active' }));
    r.append(opFromFailpoint('nse', 5, 'lock.acquire.start'));
    const got = r.append(opFromFailpoint('nse', 5, 'lock.acquired', { generation: 1 }));
    r.append(opFromFailpoint('nse', 5, 'db.tx.begin'));
    r.append(opFromFailpoint('nse', 5, 'db.write.done', { msgId: 'm1' }));
    r.append(opFromFailpoint('nse', 5, 'db.tx.commit'));
    const fr = r.append({ proc: 'orchestrator', type: 'ok', f: 'freeze', value: { proc: 'nse', pid: 5 } });
    r.append(opFromFailpoint('nse', 5, 'lock.release'));
    r.append(opFromFailpoint('nse', 5, 'lock.released'));
    r.append({ proc: 'orchestrator', type: 'ok', f: 'freeze', value: { proc: 'nse', pid: 5 } });
    const v = checkNoDead10cc(r.history);
    expect(v.violations.map((x) => x.ops)).toEqual([[got.index, fr.index], [3, fr.index]]);
    expect(checkGates(r.history).valid).toBe(true);
  });
});

describe('pairOps without refs', () => {
  it('pairs concurrent GETs on different queues by queueId, not arrival order', () => {
    const r = new HistoryRecorder({ now: () => 0 });
    r.invoke('nse', 'get', { queueId: 'q1' }, { pid: 1 });
    r.invoke('nse', 'get', { queueId: 'q2' }, { pid: 1 });
    r.ok('nse', 'get', { queueId: 'q2', msgId: 'b' }, { pid: 1 });
    r.ok('nse', 'get', { queueId: 'q1', msgId: 'a' }, { pid: 1 });
    expect(pairOps(r.history).map((x) => [x.invoke?.index, x.complete?.index])).toEqual([
      [0, 3],
      [1, 2],
    ]);
  });
});
