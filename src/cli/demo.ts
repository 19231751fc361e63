import { join } from 'node:path';
import { decodeContent } from '../core/content.js';
import { fromHex } from '../core/bytes.js';
import type { EventMsg } from '../device/ipc.js';
import { SHARED_FILES } from '../device/ipc.js';
import { createFlockLock } from '../node/lock/index.js';
import { nodeHost, silentLog, stderrLog } from '../node/host.js';
import { PendingInboxFile } from '../node/pending-inbox/index.js';
import { SharedStore } from '../node/store/index.js';
import { World } from './world.js';

export interface DemoOptions {
  verbose?: boolean;
  out?: (line: string) => void;
}

export interface DemoResult {
  sent: number;
  delivered: number;
  viaApp: number;
  viaNse: number;
  viaInbox: number;
  lost: number;
  duplicated: number;
  violations: number;
  ok: boolean;
}

type Sent = { label: string; text: string; stage: string; queue: number };

/**
 * `nsekit demo`: relay + push gateway + a sender + one device. Messages are
 * sent while the device goes foreground → background → frozen → locked →
 * unlocked → foreground; then the shared store is read back and every message
 * is accounted for (where it arrived, whether it was notified).
 */
export async function runDemo(opts: DemoOptions = {}): Promise<DemoResult> {
  const out = opts.out ?? ((l: string) => process.stdout.write(l + '\n'));
  const w = new World({
    queues: 2,
    mode: 'instant',
    procConfig: { nseGraceMs: 500, logLevel: opts.verbose ? 'info' : 'warn' },
    procOpts: { stderr: opts.verbose ? 'inherit' : 'ignore' },
    log: opts.verbose ? stderrLog('demo') : silentLog,
  });
  const sent: Sent[] = [];
  const d = () => w.device;
  const send = async (stage: string, queue: number, n: number) => {
    for (let i = 0; i < n; i++) {
      const text = `${stage} #${i + 1}`;
      await w.send(queue, text);
      sent.push({ label: `m${sent.length + 1}`, text, stage, queue });
      queue = 1 - queue;
    }
  };
  const waitCount = (role: 'app' | 'nse', name: EventMsg['name'], n: number, from: number, pred: (e: EventMsg) => boolean = () => true) =>
    d().waitCount(role, name, n, (e) => !e.duplicate && pred(e), { from, timeoutMs: 60_000 });
  try {
    await w.start();
    out(`demo: relay ${w.relay.url}  push gateway ${w.gateway.url}  shared dir ${w.device.sharedDir}`);

    out('-- foreground: the app receives over its subscriptions');
    await d().launchApp();
    await d().waitEvent('app', 'wake', () => true, { timeoutMs: 60_000 });
    let from = d().events.length;
    await send('foreground', 0, 3);
    await waitCount('app', 'acked', 3, from);

    out('-- background: sockets closed, pushes wake the NSE');
    from = d().events.length;
    await d().appLifecycle('background');
    await d().waitEvent('app', 'phase', (e) => e.phase === 'background', { from });
    from = d().events.length;
    await send('background', 1, 2);
    await waitCount('nse', 'acked', 2, from);

    out('-- frozen: app suspended (store closed, lock released), then SIGSTOP');
    from = d().events.length;
    await d().appLifecycle('suspend');
    await d().waitEvent('app', 'suspended', () => true, { from });
    out(`   freeze app: ${d().freeze(d().app!)}`);
    from = d().events.length;
    await send('frozen', 0, 2);
    await waitCount('nse', 'acked', 2, from);

    out('-- locked: the key leaves memory, the NSE writes the pending inbox');
    d().lock();
    from = d().events.length;
    await send('locked', 1, 3);
    await waitCount('nse', 'acked', 3, from);
    await d().waitEvent('nse', 'suspended', () => true, { from, timeoutMs: 30_000 });

    out('-- unlocked, foreground: the app imports the inbox, resyncs, resubscribes');
    d().unlock();
    from = d().events.length;
    await d().appLifecycle('active');
    await d().waitEvent('app', 'wake', () => true, { from, timeoutMs: 60_000 });
    from = d().events.length;
    await send('foreground again', 0, 2);
    await waitCount('app', 'acked', 2, from);

    return await report(w, sent, out);
  } finally {
    await w.stop();
  }
}

async function report(w: World, sent: Sent[], out: (l: string) => void): Promise<DemoResult> {
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
  const ev = w.device.events;
  const where = (msgId: string): 'app' | 'nse' | 'inbox' | '?' => {
    if (ev.some((e) => e.name === 'inboxed' && e.msgId === msgId)) return 'inbox';
    const s = ev.find((e) => e.name === 'stored' && e.msgId === msgId && !e.duplicate);
    return s ? (s.role as 'app' | 'nse') : '?';
  };
  const counts = { app: 0, nse: 0, inbox: 0, '?': 0 };
  let lost = 0;
  let duplicated = 0;
  out('');
  out('  msg  stage              arrived via            notified');
  for (const s of sent) {
    const ids = byText.get(s.text) ?? [];
    if (ids.length === 0) lost++;
    if (ids.length > 1) duplicated += ids.length - 1;
    const id = ids[0];
    const via = id ? where(id) : '?';
    if (id) counts[via]++;
    const label = { app: 'app → store', nse: 'NSE → store', inbox: 'NSE → inbox → store', '?': ids.length ? 'store' : 'LOST' }[via];
    const noted = id ? ev.filter((e) => e.name === 'notification' && e.msgId === id) : [];
    const notified = noted.length ? (noted[0]!.body ? `"${noted[0]!.body}"` : 'generic (locked)') : '-';
    out(`  ${s.label.padEnd(4)} ${s.stage.padEnd(18)} ${label.padEnd(22)} ${notified}`);
  }
  const delivered = sent.length - lost;
  const violations = w.device.violations.length;
  const ok = lost === 0 && duplicated === 0 && violations === 0 && inboxLeft === 0 && integrity === 'ok';
  out('');
  out(`  store integrity: ${integrity}; pending inbox left: ${inboxLeft}; 0xdead10cc violations: ${violations}; NSE launches: ${w.device.nseHistory.length}`);
  out(
    `demo: ${sent.length} sent, ${delivered} delivered (store ${counts.app + counts.nse + counts['?']}, inbox→store ${counts.inbox}), ` +
      `${lost} lost, ${duplicated} duplicated — ${ok ? 'OK' : 'FAIL'}`,
  );
  return { sent: sent.length, delivered, viaApp: counts.app, viaNse: counts.nse, viaInbox: counts.inbox, lost, duplicated, violations, ok };
}
