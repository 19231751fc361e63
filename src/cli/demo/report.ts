import { join } from 'node:path';
import { decodeContent } from '../../core/content.js';
import { fromHex } from '../../core/bytes.js';
import { SHARED_FILES } from '../../device/ipc.js';
import { createFlockLock } from '../../node/lock/index.js';
import { nodeHost, silentLog } from '../../node/host.js';
import { PendingInboxFile } from '../../node/pending-inbox/index.js';
import { SharedStore } from '../../node/store/index.js';
import type { World } from '../world.js';
import type { Sent, Tracker } from './tracker.js';

export interface DemoResult {
  sent: number;
  delivered: number;
  viaApp: number;
  viaNse: number;
  viaInbox: number;
  lost: number;
  duplicated: number;
  violations: number;
  /** App / NSE processes launched (a relaunch after a kill counts again). */
  appLaunches: number;
  nseLaunches: number;
  ok: boolean;
}

export interface StoreReadback {
  /** Text → the store's message ids holding it. */
  byText: Map<string, string[]>;
  integrity: string;
  inboxLeft: number;
}

/** Open the device's shared store from the demo process (its own lock instance) and read every message. */
export async function readBack(w: World | { device: { sharedDir: string; masterKey: string } }): Promise<StoreReadback> {
  const dir = w.device.sharedDir;
  const host = nodeHost({ log: silentLog });
  const lock = createFlockLock(join(dir, SHARED_FILES.lock), { host });
  const store = new SharedStore({ dbPath: join(dir, SHARED_FILES.db), lock, host });
  const byText = new Map<string, string[]>();
  let integrity = '';
  try {
    store.open();
    await store.unlock(fromHex(w.device.masterKey)!);
    for (const id of await store.listMessageIds()) {
      const m = await store.readMessage(id);
      const text = m ? (decodeContent(m.body).text ?? '') : '';
      byText.set(text, [...(byText.get(text) ?? []), id]);
    }
    integrity = store.integrityCheck();
  } finally {
    await store.close();
    await lock.close();
  }
  const inboxLeft = PendingInboxFile.read(join(dir, SHARED_FILES.inbox)).records.length;
  return { byText, integrity, inboxLeft };
}

const ROUTE = { app: 'app → store', nse: 'NSE → store', inbox: 'NSE → inbox → store', store: 'store' } as const;

/**
 * The table (one row per message: stage, route, notification) and the verdict line. The
 * verdict ends in OK or FAIL; a FAIL names what is missing (which messages, where the
 * device's events last saw them) or what else failed (`problem`: an error that stopped the run).
 */
export function report(t: Tracker, back: StoreReadback | null, out: (l: string) => void, problem?: string, others: OtherDevice[] = []): DemoResult {
  // The device is missing only when the world never started: nothing was sent then.
  const dev = t.w.device as typeof t.d | undefined;
  const ev = dev?.events ?? [];
  const where = (msgId: string): keyof typeof ROUTE => {
    if (ev.some((e) => e.name === 'inboxed' && e.msgId === msgId)) return 'inbox';
    const s = ev.find((e) => e.name === 'stored' && e.msgId === msgId && !e.duplicate);
    return s ? (s.role as 'app' | 'nse') : 'store';
  };
  const counts = { app: 0, nse: 0, inbox: 0, store: 0 };
  const lostRows: Sent[] = [];
  let duplicated = 0;
  out('');
  out('  msg  stage              arrived via            notified');
  for (const s of t.sent) {
    const ids = back?.byText.get(s.text) ?? [];
    if (ids.length === 0) lostRows.push(s);
    if (ids.length > 1) duplicated += ids.length - 1;
    const id = ids[0];
    const via = id ? where(id) : null;
    if (via) counts[via]++;
    const label = via ? ROUTE[via] : !back ? 'not read' : t.whereabouts(s).startsWith('in the pending inbox') ? 'MISSING (in inbox)' : 'MISSING';
    const noted = id ? ev.filter((e) => e.name === 'notification' && e.msgId === id) : [];
    const notified = noted.length ? (noted[0]!.body ? `"${noted[0]!.body}"` : 'generic (locked)') : '-';
    out(`  ${s.label.padEnd(4)} ${s.stage.padEnd(18)} ${label.padEnd(22)} ${notified}${ids.length > 1 ? `  (${ids.length} copies)` : ''}`);
  }
  const lost = back ? lostRows.length : t.sent.length;
  const delivered = t.sent.length - lost;
  const violations = dev?.violations.length ?? 0;
  const failures: string[] = [];
  if (problem) failures.push(problem);
  if (!back) failures.push('the store could not be read back');
  if (back && lostRows.length) {
    failures.push(`missing: ${lostRows.map((s) => `${s.label} (${s.stage}: ${t.whereabouts(s)})`).join(', ')}`);
  }
  if (duplicated) failures.push(`${duplicated} duplicate store rows`);
  if (back && back.inboxLeft) failures.push(`${back.inboxLeft} records left in the pending inbox`);
  if (back && back.integrity !== 'ok') failures.push(`store integrity: ${back.integrity}`);
  if (violations) failures.push(`${violations} 0xdead10cc violations`);
  // The user's other devices: every message exactly once in each one's store (one line per device).
  let otherLost = 0;
  let otherDup = 0;
  for (const o of others) {
    const r = countOther(t, o, out);
    otherLost += r.lost;
    otherDup += r.duplicated;
    failures.push(...r.failures);
  }
  const ok = failures.length === 0;
  const fanOut = t.sent.filter((s) => !s.fromApp).length;
  // Shown at most once per message (the store's `notified` mark): counted here, the table shows the first.
  const shown = new Map<unknown, number>();
  for (const e of ev) if (e.name === 'notification') shown.set(e.msgId, (shown.get(e.msgId) ?? 0) + 1);
  const shownTwice = [...shown.values()].filter((n) => n > 1).length;
  out('');
  out(
    `  store integrity: ${back?.integrity ?? '?'}; pending inbox left: ${back?.inboxLeft ?? '?'}; 0xdead10cc violations: ${violations}; ` +
      `app launches: ${dev?.appLaunches ?? 0}; NSE launches: ${dev?.nseHistory.length ?? 0}; ` +
      `messages notified more than once: ${shownTwice}`,
  );
  out(
    `demo: ${t.sent.length} sent${others.length ? ` (${fanOut} to each of ${others.length + 1} devices${fanOut < t.sent.length ? `, ${t.sent.length - fanOut} from device 1's app` : ''})` : ''}, ${delivered} delivered (store ${counts.app + counts.nse + counts.store}, inbox→store ${counts.inbox}), ` +
      `${lost + otherLost} lost, ${duplicated + otherDup} duplicated — ${ok ? 'OK' : `${failures.join('; ')} — FAIL`}`,
  );
  return {
    sent: t.sent.length,
    delivered,
    viaApp: counts.app,
    viaNse: counts.nse,
    viaInbox: counts.inbox,
    lost: lost + otherLost,
    duplicated: duplicated + otherDup,
    violations,
    appLaunches: dev?.appLaunches ?? 0,
    nseLaunches: dev?.nseHistory.length ?? 0,
    ok,
  };
}

/** Another device of the user (`nsekit demo --devices N`): its store read back and its violations. */
export interface OtherDevice {
  name: string;
  back: StoreReadback | null;
  violations: number;
  /** Where its copies arrived: `app` / `nse` stored events, for the line. */
  via: { app: number; nse: number };
}

function countOther(t: Tracker, o: OtherDevice, out: (l: string) => void): { lost: number; duplicated: number; failures: string[] } {
  const failures: string[] = [];
  if (!o.back) {
    out(`  ${o.name}: the store could not be read back`);
    return { lost: t.sent.filter((s) => !s.fromApp).length, duplicated: 0, failures: [`${o.name}: the store could not be read back`] };
  }
  // What device 1's app wrote went into its own queue only (not a fan-out): not expected here.
  const sent = t.sent.filter((s) => !s.fromApp);
  const missing = sent.filter((s) => (o.back!.byText.get(s.text) ?? []).length === 0);
  const duplicated = sent.reduce((n, s) => n + Math.max(0, (o.back!.byText.get(s.text) ?? []).length - 1), 0);
  out(
    `  ${o.name}: ${sent.length - missing.length} of ${sent.length} in its store (app ${o.via.app}, NSE ${o.via.nse}); ${missing.length} lost, ${duplicated} duplicated; ` +
      `integrity ${o.back.integrity}; pending inbox left ${o.back.inboxLeft}; 0xdead10cc violations ${o.violations}`,
  );
  if (missing.length) failures.push(`${o.name} missing: ${missing.map((s) => s.label).join(', ')}`);
  if (duplicated) failures.push(`${o.name}: ${duplicated} duplicate store rows`);
  if (o.back.inboxLeft) failures.push(`${o.name}: ${o.back.inboxLeft} records left in the pending inbox`);
  if (o.back.integrity !== 'ok') failures.push(`${o.name}: store integrity ${o.back.integrity}`);
  if (o.violations) failures.push(`${o.name}: ${o.violations} 0xdead10cc violations`);
  return { lost: missing.length, duplicated, failures };
}
