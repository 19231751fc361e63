import { describe, expect, it } from 'vitest';
import { toHex, utf8Encode } from '../../src/core/bytes.js';
import { deriveKey, EnvelopeKind, seal } from '../../src/core/crypto/index.js';
import { checkContent, checkLiveness, checkNoLoss } from '../../sim/checkers/index.js';
import { contentRows } from '../../sim/history/content-snapshot.js';
import { sentDigests, shownDigests, textDigest } from '../../sim/history/digest.js';
import { H, NSE } from './fixtures.js';

const SENDER = { proc: 'sender' } as const;
const ORCH = { proc: 'orchestrator' } as const;
const master = new Uint8Array(32).fill(7);
const bodyKey = deriveKey(master, 'body');
let n = 0;
const rng = { randomBytes: (k: number) => new Uint8Array(k).fill(++n) };
const sealed = (msgId: string, queueId: string, text: string, key = bodyKey) =>
  seal(key, rng, { kind: EnvelopeKind.messageBody, recordId: msgId, queueId }, utf8Encode(JSON.stringify({ type: 'text', text })));

/** m1 and m2 sent to q0 with the flag; the snapshot holds `rows`; `shown` are NSE notifications. */
function run(rows: Parameters<typeof contentRows>[0], shown: Record<string, unknown>[] = []): H {
  const h = new H();
  h.op({ ...SENDER, type: 'ok', f: 'send', value: { label: 'm1', queueId: 'q0', msgId: 'r1', notification: true, ...sentDigests('hello one') } }, 's1');
  h.op({ ...SENDER, type: 'ok', f: 'send', value: { label: 'm2', queueId: 'q0', msgId: 'r2', notification: false, ...sentDigests('hello two') } }, 's2');
  for (const [i, f] of shown.entries()) h.op({ ...NSE, type: 'ok', f: 'notify', value: { msgId: f.msgId, queueId: f.queueId, threadId: f.queueId, ...shownDigests(f) } }, `n${i}`);
  h.op({ ...ORCH, type: 'ok', f: 'store.snapshot', value: { msgIds: [...rows].map((r) => r.msgId), content: contentRows(rows, bodyKey) } }, 'snap');
  return h;
}
const good = () => [
  { msgId: 'r1', queueId: 'q0', sealed: sealed('r1', 'q0', 'hello one'), notification: true, read: false },
  { msgId: 'r2', queueId: 'q0', sealed: sealed('r2', 'q0', 'hello two'), notification: false, read: false },
];

describe('content (invariant 13)', () => {
  it('holds when every row opens, is the text sent with its flag, and notifications show that text or the generic content', () => {
    const v = checkContent(run(good(), [{ msgId: 'r1', queueId: 'q0', title: 'New message', body: 'hello one' }, { msgId: 'r2', queueId: 'q0', title: 'New message', body: '' }]).ops);
    expect(v).toMatchObject({ invariant: 'content', valid: true, violations: [] });
  });
  it('is not judged on a history without digests', () => {
    const h = new H();
    h.op({ ...ORCH, type: 'ok', f: 'store.snapshot', value: { msgIds: [] } });
    expect(checkContent(h.ops)).toMatchObject({ valid: true, notes: [expect.stringMatching(/not judged/)] });
  });
  it('reports a row that does not open under its own msgId, another text, a lost flag, another queue', () => {
    const rows = good();
    rows[0]!.sealed = sealed('r2', 'q0', 'hello one'); // sealed under another record id
    rows[1] = { msgId: 'r2', queueId: 'q1', sealed: sealed('r2', 'q1', 'hello TWO'), notification: true, read: false };
    const h = run(rows);
    const v = checkContent(h.ops);
    expect(v.valid).toBe(false);
    expect(v.violations.map((x) => x.detail)).toEqual([
      "stored message r1 does not open with the store's body key under its own msgId and queue",
      'message r2 was sent to q0 but is stored under q1',
      `stored message r2 is not the text sent (digest ${textDigest('hello TWO')}, sent ${textDigest('hello two')})`,
      'message r2 was sent with notification=false but is stored with true',
    ]);
    expect(v.violations[0]!.ops).toEqual([h.at.s1, h.at.snap]);
  });
  it('reports a notification showing another message\'s text or naming another queue', () => {
    const h = run(good(), [{ msgId: 'r1', queueId: 'q0', title: 'New message', body: 'hello two' }, { msgId: 'r2', queueId: 'q9', title: 'x', body: 'hello two' }]);
    const v = checkContent(h.ops);
    expect(v.violations.map((x) => [x.detail, x.ops, x.proc])).toEqual([
      [`notification for r1 shows a body that is not its text's (digest ${textDigest('hello two')}, expected ${textDigest('hello one')})`, [h.at.s1, h.at.n0], 'nse'],
      ['notification for r2 names q9, but it was sent to q0', [h.at.s2, h.at.n1], 'nse'],
    ]);
  });
  it('a store key other than the body key opens nothing', () => {
    const other = deriveKey(master, 'inbox');
    const rows = good().map((r) => ({ ...r, sealed: sealed(r.msgId, r.queueId, 'hello one', other) }));
    expect(Object.values(contentRows(rows, bodyKey)).map((r) => r.opens)).toEqual([false, false]);
    expect(toHex(other)).not.toBe(toHex(bodyKey));
  });
});

describe('poison messages (send with poison: quarantined, never in messages)', () => {
  const hist = (snap: Record<string, unknown>) => {
    const h = new H();
    h.op({ ...SENDER, type: 'ok', f: 'send', value: { label: 'm1', queueId: 'q0', msgId: 'r1', poison: true, ...sentDigests('x') } }, 's1');
    h.op({ ...NSE, type: 'ok', f: 'ack', value: { msgId: 'r1', queueId: 'q0' } }, 'ack');
    h.op({ ...ORCH, type: 'ok', f: 'store.snapshot', value: { msgIds: [], inbox: { msgIds: [] }, ...snap } }, 'snap');
    return h;
  };
  it('quarantined: kept (no-loss) and where it belongs (liveness)', () => {
    const ops = hist({ quarantine: ['r1'] }).ops;
    expect(checkNoLoss(ops).valid).toBe(true);
    expect(checkLiveness(ops).valid).toBe(true);
  });
  it('ACKed but not quarantined: lost; stored in messages: in the wrong place', () => {
    const lost = hist({ quarantine: [] });
    expect(checkNoLoss(lost.ops).violations.map((v) => v.detail)).toEqual(["message r1 was deleted at the relay (ACKed) but is in neither the store, its quarantine nor the pending inbox"]);
    expect(checkLiveness(lost.ops).violations.map((v) => v.detail)).toEqual(['poison message r1 sent but not in the quarantine at the end of the run']);
    const stored = hist({ msgIds: ['r1'], quarantine: [] });
    expect(checkLiveness(stored.ops).violations.map((v) => v.detail)).toEqual(["poison message r1 (it never opens) is in the store's messages"]);
  });
});
