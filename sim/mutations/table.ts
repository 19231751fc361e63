/**
 * The mutation table: realistic one-line (or few-line) bugs planted in the SHIPPING code
 * (src/**, never sim/), each applied textually to a copy of the repository (sim/mutations/apply.ts)
 * and hunted with `nsekit explore` in fast mode (sim/mutations/run.ts). A row is caught when the
 * mutated code violates an invariant at a run whose unmutated run does not — by that invariant,
 * at that run. The figures (`seed`, `firstRun`, `caughtBy`) are the ones measured and printed in
 * docs/fast-mode.md "Mutation table"; test/sim/mutations.test.ts checks them again.
 */
import type { InvariantName } from '../checkers/types.js';

export interface Edit {
  /** Exact text, present exactly once in the file. */
  find: string;
  replace: string;
}

export interface Mutation {
  id: string;
  /** Repository-relative path of a shipping file. */
  file: string;
  /** One edit (find/replace) or several, applied in order. */
  edits: Edit[];
  description: string;
  /** The invariant(s) meant to catch it. */
  expect: InvariantName[];
  /** How it is hunted: explore in fast mode (the default), or one real-mode catalogue run (code only the Node processes run). */
  mode?: 'fast' | 'real';
  /** Real mode: the catalogue scenario run once at `seed`. */
  scenario?: string;
  /** Exploration seed (fast) or run seed (real). */
  seed: number;
  /** Measured: the first run (fast: explore run index) at which it was caught, null if not within the budget. */
  firstRun: number | null;
  /** Measured: the invariants that run violated and its unmutated run did not. */
  caughtBy: InvariantName[];
  /** Why it is not caught, for a row with firstRun null. */
  notCaught?: string;
}

const one = (find: string, replace: string): Edit[] => [{ find, replace }];

/** Where the figures were measured (`run.ts --ref`): the commit, not a person. */
export const MEASURED_AT = '5b2c1f0';

/** Runs an exploration may take to catch a row. */
export const MUTATION_RUN_BUDGET = 2_000;

export const MUTATIONS: Mutation[] = [
  {
    id: 'ack-before-write',
    file: 'src/core/inbound/pipeline.ts',
    edits: [
      { find: '      ing = await ingest(deps, r.msg);', replace: '      await r.ack();\n      ing = await ingest(deps, r.msg);' },
      { find: 'out.push(await ackThenAnnounce(deps, ing, () => r.ack()));', replace: 'out.push(await ackThenAnnounce(deps, ing, async () => {}));' },
    ],
    description: 'the GET path ACKs (the relay deletes) before the durable write',
    expect: ['no-loss'],
    seed: 1,
    firstRun: 0,
    caughtBy: ['no-loss', 'liveness'],
  },
  {
    id: 'sub-ack-before-write',
    file: 'src/core/inbound/pipeline.ts',
    edits: one('  return ackThenAnnounce(deps, await ingest(deps, m), ack);', '  await ack();\n  return ackThenAnnounce(deps, await ingest(deps, m), async () => {});'),
    description: "the app's SUB delivery ACKs before the durable write",
    expect: ['no-loss'],
    seed: 1,
    firstRun: 996,
    caughtBy: ['no-loss', 'liveness'],
  },
  {
    id: 'no-resubscribe-on-foreground',
    file: 'src/core/session/app/app.ts',
    edits: one("    if (this.mode === 'instant') await this.realtime.subscribeAll();\n    else this.poller.start();", "    if (this.mode === 'instant') {\n      if (reason === 'online') await this.realtime.subscribeAll();\n    } else this.poller.start();"),
    description: "the wake sequence run by a foreground (reason `resume`, also at launch) does not SUB again; only the reconnect's wake (`online`) does",
    expect: ['live-delivery'],
    seed: 1,
    firstRun: 6,
    caughtBy: ['live-delivery'],
  },
  {
    id: 'extra-get-cap-ignored',
    file: 'src/core/session/nse/nse.ts',
    edits: one('{ maxExtraGets: this.maxExtraGets, stop: () => job.done || this.appInFront(), untilNotification: true }', '{ maxExtraGets: Number.MAX_SAFE_INTEGER, stop: () => job.done || this.appInFront() }'),
    description: 'the NSE fetches until the queue is empty, whatever its extra-GET cap and the notification flag',
    expect: ['bounded-work'],
    seed: 1,
    firstRun: 130,
    caughtBy: ['bounded-work'],
  },
  {
    id: 'expiry-does-not-suspend',
    file: 'src/core/session/nse/nse.ts',
    edits: one('    void this.suspend(0);\n  }', '  }'),
    description: "the NSE's expiry path delivers best-attempt content but does not suspend (store open, lock takeable, until its idle grace)",
    expect: ['bounded-work'],
    seed: 1,
    firstRun: 40,
    caughtBy: ['no-dead10cc'],
  },
  {
    id: 'expiry-leaves-jobs-running',
    file: 'src/core/session/nse/nse.ts',
    edits: one('    if (job.done) return null;\n    job.done = true;\n    let at: number | null = null;\n', '    if (job.done) return null;\n    let at: number | null = null;\n'),
    description: "the NSE's expiry shows best-attempt content but does not mark the pushes finished: their fetches go on (a push waiting out the suspension GETs once reactivated)",
    expect: ['bounded-work'],
    seed: 3,
    firstRun: 281,
    caughtBy: ['bounded-work'],
  },
  {
    id: 'slot-released-at-get-reply',
    file: 'src/core/queue/coordinator.ts',
    edits: one('    const m = msg;\n    return {', "    const m = msg;\n    this.handOn(queueId, q, slot, 'done');\n    return {"),
    description: "the per-queue slot is handed to the next GET as soon as the GET's reply is read, not at the ACK",
    expect: ['get-isolation'],
    seed: 1,
    firstRun: 0,
    caughtBy: ['get-isolation'],
  },
  {
    id: 'locked-append-not-awaited',
    file: 'src/core/inbound/pipeline.ts',
    edits: one('    await deps.inbox.append({ msgId: m.msgId, queueId: m.queueId', '    void deps.inbox.append({ msgId: m.msgId, queueId: m.queueId'),
    description: 'device locked: the pending-inbox append is not awaited, so the ACK may outrun it (stands in for "the inbox claim deleted before the DB commit": that code is the inbox port, src/node/pending-inbox, which fast mode replaces with sim/fast/inbox.ts)',
    expect: ['no-loss'],
    seed: 1,
    firstRun: 569,
    caughtBy: ['no-loss', 'liveness'],
  },
  {
    id: 'background-keeps-network-open',
    file: 'src/core/phase/machine.ts',
    edits: one('      blocked: withBlocked(context.blocked, NETWORK_CLASSES),', '      blocked: withBlocked(context.blocked, []),'),
    description: 'entering background blocks no network class',
    expect: ['gates'],
    seed: 1,
    firstRun: null,
    caughtBy: [],
    notCaught:
      "the app starts no network operation of its own in the background (its realtime goes idle, the wake is cut short at its next step), so the open classes are never used; the one path that caught it before a0392a6 — the app's GET beside an NSE's receive the yield had not given up — is closed since the NSE gives its receives up at the yield (docs/receive.md \"Yield\"). Not caught at seeds 1, 2, 3 within 2 000 runs",
  },
  {
    id: 'no-yield-on-lock-request',
    file: 'src/core/session/nse/nse.ts',
    edits: one("    rt.lock.onYieldRequested(() => void this.yieldToApp('lock'));", ''),
    description: "the NSE ignores the app's yield request on the lock's side channel",
    expect: ['get-isolation'],
    seed: 1,
    firstRun: null,
    caughtBy: [],
    notCaught: "the lock channel is a second path for the same request: the device's IPC yield (`yieldToApp('ipc')` at a foreground, `setAppActive(true)` to a frozen NSE) reaches the NSE in every generated scenario, and the NSE asks `yieldPending()` before every GET regardless",
  },
  {
    id: 'wake-skips-inbox-import',
    file: 'src/core/session/app/app.ts',
    edits: one('    if (rt.unlocked) await rt.importInbox();\n    await rt.phase.run', '    await rt.phase.run'),
    description: 'the wake sequence does not import the pending inbox (only an unlock while active does)',
    expect: ['liveness'],
    seed: 1,
    firstRun: 4,
    caughtBy: ['liveness'],
  },
  {
    id: 'store-close-not-awaited',
    file: 'src/core/session/runtime.ts',
    edits: one('          await this.store.close();', '          void this.store.close();'),
    description: "suspension reports `suspended` without waiting for the store's close (checkpoint under the lock)",
    expect: ['no-dead10cc'],
    seed: 1,
    firstRun: 0,
    caughtBy: ['no-dead10cc'],
  },
  {
    id: 'left-front-before-idle',
    file: 'src/core/session/app/app.ts',
    edits: one("    await rt.phase.whenIdle('receiveNetwork');\n    rt.emit('left-front', {});", "    rt.emit('left-front', {});"),
    description: "the app reports left-front before its receive in flight finished (the NSE may GET beside it)",
    expect: ['get-isolation'],
    seed: 1,
    firstRun: null,
    caughtBy: [],
    notCaught: "the wake's GETs run inside the app's serialized lifecycle, so a `background` command waits for them anyway; what is still in flight at background is a SUB delivery (or a low-power poll fetch, 10% of runs), and get-isolation judges GETs only (the fast mode does not record the SUB path's ACK as an app op). an experiment counting an app SUB ingest that overlaps an NSE GET of the same message found one such overlap at run 1780 on 7154f9f and none within the budget at b0a4baa",
  },
  {
    id: 'ack-on-processing-failure',
    file: 'src/core/inbound/pipeline.ts',
    edits: one('      r.release();\n', '      await r.ack().catch(() => {});\n'),
    description: 'a message whose processing failed is ACKed (deleted) instead of released',
    expect: ['no-loss'],
    seed: 3,
    firstRun: 630,
    caughtBy: ['no-loss', 'liveness'],
  },
  {
    id: 'yield-without-drain',
    file: 'src/core/session/nse/nse.ts',
    edits: one('    await this.suspend(this.suspendDeadlineMs, report);\n  }', '    report();\n    void this.suspend(this.suspendDeadlineMs);\n  }'),
    description: "the NSE answers a yield request (`yielded`) at once and drains afterwards: the app GETs beside the NSE's receive in flight",
    expect: ['get-isolation'],
    seed: 3,
    firstRun: 148,
    caughtBy: ['get-isolation'],
  },
  {
    id: 'locked-path-no-marker',
    file: 'src/core/inbound/pipeline.ts',
    edits: one('m.flags.notification && (await deps.inbox.markNotified(m.msgId, m.queueId)) && (await notYetInStore(deps, m))', 'm.flags.notification && (await notYetInStore(deps, m))'),
    description: "device locked: the generic notification is shown without appending the pending inbox's `notified` marker (the locked device's at-most-once record)",
    expect: ['no-duplicates'],
    seed: 2,
    firstRun: 220,
    caughtBy: ['no-duplicates'],
  },
  {
    id: 'shown-while-locked-unchecked',
    file: 'src/core/inbound/pipeline.ts',
    edits: one('isUserContent(content) && (await store.markNotified(m.msgId)) && !(await shownWhileLocked(deps, m))', 'isUserContent(content) && (await store.markNotified(m.msgId))'),
    description: "the store path shows a message without asking the pending inbox whether it was already shown while locked",
    expect: ['no-duplicates'],
    seed: 2,
    firstRun: 220,
    caughtBy: ['no-duplicates'],
  },
  {
    id: 'generation-not-bumped',
    file: 'src/node/lock/base.ts',
    edits: one('        gen = this.nextGen();\n        this.writeGen(gen);\n      }\n    } finally {\n      this.lastSeenGen = gen;\n      this.isHeld = false;', '        gen = this.heldGen;\n        this.writeGen(gen);\n      }\n    } finally {\n      this.lastSeenGen = gen;\n      this.isHeld = false;'),
    description: 'a release after a write does not bump the shared generation (the Node lock: fast mode runs its own lock table, so this row runs one real-mode catalogue scenario)',
    expect: ['generation'],
    mode: 'real',
    scenario: 'nse-push-while-app-suspending',
    seed: 1,
    firstRun: 0,
    caughtBy: ['generation'],
  },
  {
    id: 'outbox-sent-before-ok',
    file: 'src/core/session/app/outbox.ts',
    edits: one("        await rt.store.outboxMark(it.clientId, 'sending');", "        await rt.store.outboxMark(it.clientId, 'sent');"),
    description: "an outbox item is marked sent before the relay's OK (a failed SEND is never retried)",
    expect: ['liveness'],
    seed: 1,
    firstRun: null,
    caughtBy: [],
    notCaught: "no scenario sends from the app: the scenario verb `send` is the external sender (sim/fast/steps.ts), so the outbox never holds an item in either mode; the SEND gates rule and the outbox failpoints are in place for when one does",
  },
  {
    id: 'import-reseal-wrong-record',
    file: 'src/core/session/inbox-import.ts',
    edits: one('{ kind: EnvelopeKind.messageBody, recordId: rec.msgId, queueId: rec.queueId }, plain);\n    if (rt.readSync', '{ kind: EnvelopeKind.messageBody, recordId: rec.queueId, queueId: rec.queueId }, plain);\n    if (rt.readSync'),
    description: 'the inbox import re-seals a body at rest under the wrong record id: stored, never readable again',
    expect: ['content'],
    seed: 1,
    firstRun: 1,
    caughtBy: ['content'],
  },
  {
    id: 'locked-flags-lost',
    file: 'src/core/inbound/pipeline.ts',
    edits: one('await deps.inbox.append({ msgId: m.msgId, queueId: m.queueId, ts: m.ts, flags: { ...m.flags }, sealed: m.body });', 'await deps.inbox.append({ msgId: m.msgId, queueId: m.queueId, ts: m.ts, flags: { notification: false }, sealed: m.body });'),
    description: 'locked: the pending-inbox record drops the notification flag (imported unflagged: never counted in the badge)',
    expect: ['content'],
    seed: 1,
    firstRun: 1,
    caughtBy: ['content'],
  },
  {
    id: 'gate-ignores-blocked',
    file: 'src/core/phase/controller.ts',
    edits: one('if (!this.isBlocked(cls) && this.ops.waiting(cls) === 0) return this.ops.exec(cls, fn);', 'if (this.ops.waiting(cls) === 0) return this.ops.exec(cls, fn);'),
    description: 'an operation starts at once whenever nothing waits ahead of it, blocked class or not',
    expect: ['gates', 'no-dead10cc'],
    seed: 1,
    firstRun: 4,
    caughtBy: ['no-dead10cc'],
  },
  {
    id: 'badge-off-by-one',
    file: 'src/core/session/notify.ts',
    edits: one('return badgeValue(await s.unreadCount());', 'return badgeValue((await s.unreadCount()) + 1);'),
    description: 'the badge is the unread count plus one',
    expect: ['badge'],
    seed: 1,
    firstRun: 0,
    caughtBy: ['badge'],
  },
  {
    id: 'push-after-expiry-fetches',
    file: 'src/core/session/nse/nse.ts',
    edits: one('if (this.expiredAt !== null && rt.host.clock.now() - this.expiredAt < this.graceMs) {', 'if (false) {'),
    description: 'a push within the grace after an expiry reopens the store and fetches (iOS freezes the NSE at the grace end)',
    expect: ['no-dead10cc'],
    seed: 1,
    firstRun: 207,
    caughtBy: ['no-dead10cc'],
  },
  {
    id: 'expire-no-best-attempt',
    file: 'src/core/session/nse/nse.ts',
    edits: one('    for (const job of this.jobs) at = this.bestAttempt(job) ?? at;\n', ''),
    description: 'the expiry shows no best-attempt content and leaves its pushes running',
    expect: ['bounded-work', 'no-dead10cc'],
    seed: 3,
    firstRun: 1701,
    caughtBy: ['no-dead10cc'],
  },
  {
    id: 'quarantine-not-awaited',
    file: 'src/core/inbound/pipeline.ts',
    edits: one('    await deps.quarantine({ msgId: m.msgId,', '    void deps.quarantine({ msgId: m.msgId,'),
    description: 'a poison message is ACKed before its quarantine record is durable',
    expect: ['no-loss'],
    seed: 1,
    firstRun: 0,
    caughtBy: ['no-loss', 'liveness'],
  },
  {
    id: 'remote-read-unbounded',
    file: 'src/core/session/read-sync.ts',
    edits: one('remoteRead(queueId, m.upTo);', 'remoteRead(queueId, Number.MAX_SAFE_INTEGER);'),
    description: "another device's read marker is applied beyond its upTo: messages nobody saw become read",
    expect: ['read-sync'],
    seed: 2,
    firstRun: 336,
    caughtBy: ['read-sync'],
  },
];
