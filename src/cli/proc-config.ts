/**
 * `nsekit app|nse --config FILE`: the file is read and checked here, before a process
 * starts, so a missing file, bad JSON or a field of the wrong type is one CLI_CONFIG line
 * naming the file and the field (docs/cli.md), not a raw ENOENT or a TypeError deep in the
 * session. The shape is ProcConfig (docs/processes.md#configuration-and-the-keychain).
 */
import { readFileSync, statSync } from 'node:fs';
import { NsekitError } from '../core/errors.js';
import type { ProcConfig, QueueConfig } from '../device/ipc.js';

type Check = (v: unknown) => string | null; // null = fine, else what was wanted

const isStr: Check = (v) => (typeof v === 'string' && v.length > 0 ? null : 'a non-empty string');
const isHex32: Check = (v) => (typeof v === 'string' && /^[0-9a-fA-F]{64}$/.test(v) ? null : '64 hex digits (32 bytes)');
const isInt: Check = (v) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? null : 'a non-negative integer');
const isUrl = (schemes: string[]): Check => (v) =>
  typeof v === 'string' && schemes.some((s) => v.startsWith(`${s}://`)) ? null : `a ${schemes.join('/')}:// URL`;
const isWord = (words: string[]): Check => (v) => (typeof v === 'string' && words.includes(v) ? null : `one of ${words.map((w) => JSON.stringify(w)).join(', ')}`);

interface Field {
  check: Check;
  required?: true;
}
// Mapped over the config types: a field added to ProcConfig or QueueConfig fails to compile until it is checked here.
const TOP: { [K in Exclude<keyof ProcConfig, 'role'>]-?: Field } = {
  sharedDir: { check: isStr, required: true },
  relayUrl: { check: isUrl(['ws', 'wss']), required: true },
  queues: { check: (v) => (Array.isArray(v) ? null : 'an array of queues'), required: true },
  relayHttpUrl: { check: isUrl(['http', 'https']) },
  mode: { check: isWord(['instant', 'lowPower']) },
  lockBackend: { check: isWord(['flock', 'lease']) },
  logLevel: { check: isWord(['debug', 'info', 'warn', 'error']) },
  storeSync: { check: isWord(['full', 'normal']) },
  nseBudgetMs: { check: isInt },
  nseGraceMs: { check: isInt },
  nseMaxExtraGets: { check: isInt },
  nseSuspendDeadlineMs: { check: isInt },
  pingIntervalMs: { check: isInt },
  rtBackoffBaseMs: { check: isInt },
  rtAttemptsBeforeFallback: { check: isInt },
  rtFallbackFetchMs: { check: isInt },
  pollIntervalMs: { check: isInt },
  syncMaxBatch: { check: isInt },
  appExpiryDeadlineMs: { check: isInt },
  pushToken: { check: (v) => (v === null || (typeof v === 'string' && /^[A-Za-z0-9_.:-]{1,200}$/.test(v)) ? null : 'null or a push token (1..200 of [A-Za-z0-9_.:-])') },
  platform: { check: (v) => (typeof v === 'string' && /^[a-z0-9]{1,16}$/.test(v) ? null : '1..16 of [a-z0-9]') },
  appVersion: { check: (v) => (typeof v === 'string' && /^[A-Za-z0-9._+-]{1,32}$/.test(v) ? null : '1..32 of [A-Za-z0-9._+-]') },
  backgroundRefresh: { check: (v) => (typeof v === 'boolean' ? null : 'true or false') },
  appSuspendAfterMs: { check: isInt },
  linkedDevices: {
    check: (v) =>
      Array.isArray(v) && v.every((d) => isObj(d) && isStr(d.queueId) === null && isStr(d.senderKey) === null && isHex32(d.e2eKey) === null)
        ? null
        : 'an array of {queueId, senderKey, e2eKey (64 hex)}',
  },
};
const QUEUE: { [K in keyof QueueConfig]-?: Field } = {
  queueId: { check: isStr, required: true },
  recipientKey: { check: isStr, required: true },
  e2eKey: { check: isHex32, required: true },
  statusKey: { check: isStr },
  senderKey: { check: isStr },
  notifierId: { check: isStr },
  notifierKey: { check: isHex32 },
  only: { check: isWord(['app', 'nse']) },
  conversation: { check: isStr },
  deviceSync: { check: (v) => (typeof v === 'boolean' ? null : 'true or false') },
};

function checkObject(file: string, where: string, o: Record<string, unknown>, fields: Record<string, Field>): void {
  for (const [k, f] of Object.entries(fields)) {
    if (o[k] === undefined) {
      if (f.required) throw new NsekitError('CLI_CONFIG', `${file}: ${where}${k} is required`);
      continue;
    }
    const want = f.check(o[k]);
    if (want) throw new NsekitError('CLI_CONFIG', `${file}: ${where}${k} must be ${want}, got ${JSON.stringify(o[k])}`);
  }
  // `role` is set by the command (app or nse); anything else unknown is most likely a typo.
  for (const k of Object.keys(o)) {
    if (!(k in fields) && k !== 'role') throw new NsekitError('CLI_CONFIG', `${file}: ${where}${k} is not a known field (known: ${Object.keys(fields).join(', ')})`);
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Reads and checks a ProcConfig file; throws CLI_CONFIG naming the file and the field at fault. */
export function loadProcConfig(file: string): Omit<ProcConfig, 'role'> {
  let text: string;
  try {
    if (statSync(file).isDirectory()) throw new NsekitError('CLI_CONFIG', `${file} is a directory, not a config file`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof NsekitError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    throw new NsekitError('CLI_CONFIG', `${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'not readable' : (e as Error).message}`);
  }
  let cfg: unknown;
  try {
    cfg = JSON.parse(text);
  } catch (e) {
    throw new NsekitError('CLI_CONFIG', `${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isObj(cfg)) throw new NsekitError('CLI_CONFIG', `${file}: must hold a JSON object (a ProcConfig), got ${Array.isArray(cfg) ? 'an array' : JSON.stringify(cfg)}`);
  checkObject(file, '', cfg, TOP);
  (cfg.queues as unknown[]).forEach((q, i) => {
    if (!isObj(q)) throw new NsekitError('CLI_CONFIG', `${file}: queues[${i}] must be an object, got ${JSON.stringify(q)}`);
    checkObject(file, `queues[${i}].`, q, QUEUE);
  });
  return cfg as unknown as Omit<ProcConfig, 'role'>;
}
