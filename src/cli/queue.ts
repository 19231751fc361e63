/**
 * `nsekit queue create --relay URL [--out proc.json] [--shared-dir DIR] [--queues N]`:
 * creates queues on a running relay and writes a ProcConfig that `nsekit app|nse --config`
 * runs as it is (docs/cli.md, "Manual runs"). Each queue gets fresh keys — an end-to-end
 * key, a status-signing key — and the sender credential, so the app's `send` works on it:
 * a message the app sends comes back to it through the relay.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { toHex } from '../core/bytes.js';
import { NsekitError } from '../core/errors.js';
import { generateStatusKeypair } from '../core/protocol/index.js';
import type { ProcConfig, QueueConfig } from '../device/ipc.js';
import { nodeRng, silentLog } from '../node/host.js';
import { WsTransport } from '../node/transport/ws-transport.js';
import { badValue, intFlag, oneOf, parseFlags, str, usageError, type Parsed } from './args.js';
export { QUEUE_USAGE } from './usage.js';

export function parseQueueCreateArgs(argv: readonly string[]): Parsed {
  return parseFlags(argv, { relay: 'value', out: 'value', 'shared-dir': 'value', queues: 'value', mode: 'value', force: 'switch' });
}

export async function runQueueCli(argv: readonly string[], out: (s: string) => void): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined) throw usageError('missing subcommand (create)');
  if (sub !== 'create') throw usageError(`unknown subcommand ${JSON.stringify(sub)} (create)`);
  const p = parseQueueCreateArgs(rest);
  const relayUrl = str(p, 'relay');
  if (!relayUrl) throw usageError('--relay URL is required (the ws:// URL nsekit relay printed)');
  if (!/^wss?:\/\/[^/]/.test(relayUrl)) throw badValue('--relay', relayUrl, 'a ws:// URL');
  const count = intFlag(p, 'queues', 1, 100) ?? 1;
  const mode = oneOf(p, 'mode', ['instant', 'lowPower'] as const) ?? 'instant';
  const outFile = str(p, 'out') ?? 'proc.json';
  if (outFile !== '-' && existsSync(outFile) && !p.flags.force) throw new NsekitError('CLI_IO', `--out ${outFile} exists (--force to overwrite)`);
  if (outFile !== '-' && !existsSync(dirname(resolve(outFile)))) throw new NsekitError('CLI_IO', `--out ${outFile}: directory ${dirname(resolve(outFile))} does not exist`);
  const sharedDir = resolve(str(p, 'shared-dir') ?? join(tmpdir(), `nsekit-dev-${toHex(new Uint8Array(randomBytes(4)))}`));

  const t = new WsTransport({ url: relayUrl, log: silentLog });
  try {
    await t.connect();
  } catch (e) {
    throw new NsekitError('CLI_IO', `--relay ${relayUrl}: cannot connect (${(e as Error).message})`);
  }
  const queues: QueueConfig[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const kp = generateStatusKeypair(nodeRng);
      const ids = await t.createQueue({ recipientKey: kp.publicKey });
      queues.push({
        queueId: ids.queueId,
        recipientKey: ids.recipientCred,
        senderKey: ids.senderCred,
        e2eKey: toHex(new Uint8Array(randomBytes(32))),
        statusKey: toHex(kp.secretKey),
      });
    }
  } finally {
    await t.close();
  }
  mkdirSync(sharedDir, { recursive: true });
  const cfg: Omit<ProcConfig, 'role'> = { sharedDir, relayUrl, mode, queues };
  const json = JSON.stringify(cfg, null, 2);
  if (outFile === '-') out(json);
  else {
    writeFileSync(outFile, json + '\n', { mode: 0o600 }); // it holds the queues' credentials
    out(`wrote ${outFile}: ${count} queue${count > 1 ? 's' : ''} (${queues.map((q) => q.queueId).join(', ')}) on ${relayUrl}, sharedDir ${sharedDir}`);
  }
  // The master key is never in the config (it comes only with `unlock`, as from the keychain on a
  // device): a fresh one is offered here, and the store then opens with that key only.
  const err = (s: string) => process.stderr.write(s + '\n');
  err(`next: nsekit app --config ${outFile === '-' ? 'FILE' : outFile}, then on its stdin: unlock ${toHex(new Uint8Array(randomBytes(32)))} (a fresh master key; keep it), active, send ${queues[0]!.queueId} hello`);
  return 0;
}
