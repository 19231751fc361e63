import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { NsekitError } from '../core/errors.js';
import { isEvent, type Command, type EventMsg, type EventName, type ProcConfig } from './ipc.js';

export interface FpHit {
  type: 'fp';
  seq: number;
  name: string;
  fields: Record<string, unknown>;
  t: number;
  pid: number;
  pause: boolean;
}
function isFpHit(m: unknown): m is FpHit {
  return typeof m === 'object' && m !== null && (m as { type?: unknown }).type === 'fp';
}

const REPO = fileURLToPath(new URL('../..', import.meta.url));

/**
 * The shipping entry points; run through tsx so the processes execute the TypeScript
 * sources, or bundled (./bundle.ts). A device may be given others (DeviceOpts.entries).
 */
export const ENTRY = {
  app: fileURLToPath(new URL('../app/main.ts', import.meta.url)),
  nse: fileURLToPath(new URL('../nse/main.ts', import.meta.url)),
} as const;

/**
 * The environment the device gives its processes: ours, minus what only costs
 * launch time. NODE_EXTRA_CA_CERTS makes Node parse a CA bundle before running
 * any code (≈ 120 ms per launch on the CI VMs, which set it); the app and the
 * NSE speak plain ws on loopback and never use TLS. Used for the bench's bare
 * node baseline too, so both are launched alike.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Runs a bundled entry with its V8 code cache (plain CommonJS, no tsx). */
const LAUNCHER = fileURLToPath(new URL('./launcher.cjs', import.meta.url));

export interface ManagedProcOpts {
  /** Prefix for forwarded stderr lines; stderr is inherited if `stderr: 'inherit'`. */
  stderr?: 'inherit' | 'pipe' | 'ignore';
  /** Called for every stderr line when stderr is 'pipe'. */
  onLog?: (line: string) => void;
  /** Override the module to run (defaults to the role's entry). */
  entry?: string;
  /** Extra env. */
  env?: Record<string, string>;
}

/**
 * One app or NSE process as the device sees it: IPC commands in, events out,
 * every event kept in `events` so tests can wait on them without races.
 */
export class ManagedProc extends EventEmitter {
  readonly child: ChildProcess;
  readonly events: EventMsg[] = [];
  /** Failpoint hits reported over IPC (src/node/failpoints.ts). */
  readonly fpHits: FpHit[] = [];
  readonly role: ProcConfig['role'];
  readonly spawnedAt = Date.now();
  exited = false;
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;
  stopped = false;
  private readonly exitP: Promise<void>;

  constructor(config: ProcConfig, opts: ManagedProcOpts = {}) {
    super();
    this.role = config.role;
    const entry = opts.entry ?? ENTRY[config.role];
    // A pre-built bundle (.cjs) runs on plain node through the launcher (V8 code cache); TypeScript sources go through tsx.
    const args = entry.endsWith('.cjs') ? [LAUNCHER, entry] : ['--import', 'tsx', entry];
    this.child = spawn(process.execPath, args, {
      cwd: REPO,
      env: childEnv({ ...opts.env, NSEKIT_CONFIG: JSON.stringify(config) }),
      stdio: ['ignore', 'ignore', opts.stderr ?? 'inherit', 'ipc'],
      serialization: 'json',
    });
    if (opts.stderr === 'pipe' && this.child.stderr) {
      let buf = '';
      this.child.stderr.setEncoding('utf8');
      this.child.stderr.on('data', (d: string) => {
        buf += d;
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          opts.onLog?.(buf.slice(0, i));
          buf = buf.slice(i + 1);
        }
      });
    }
    this.child.on('message', (m: unknown) => {
      if (isFpHit(m)) {
        this.fpHits.push(m);
        this.emit('fp', m);
        return;
      }
      if (!isEvent(m)) return;
      this.events.push(m);
      this.emit('event', m);
    });
    this.exitP = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exited = true;
        this.exitCode = code;
        this.exitSignal = signal;
        this.emit('exit', code, signal);
        resolve();
      });
    });
    // An IPC write to a dead child emits 'error'; the exit handler covers it.
    this.child.on('error', () => {});
  }

  /** Pause the process the next (nth) time it reaches failpoint `name`; resolves with the hit. */
  armFailpoint(name: string, opts: { nth?: number; timeoutMs?: number } = {}): Promise<FpHit> {
    const from = this.fpHits.length;
    this.sendRaw({ type: 'fp-arm', name, nth: opts.nth ?? 1 });
    return new Promise((resolve, reject) => {
      const check = (h: FpHit) => {
        if (h.name !== name || !h.pause) return;
        cleanup();
        resolve(h);
      };
      const onExit = () => {
        cleanup();
        reject(new NsekitError('PROTO_CLOSED', `${this.role} exited before failpoint ${name}`));
      };
      const t = setTimeout(() => {
        cleanup();
        reject(new NsekitError('PROTO_TIMEOUT', `${this.role} never reached failpoint ${name}`));
      }, opts.timeoutMs ?? 20_000);
      const cleanup = () => {
        clearTimeout(t);
        this.off('fp', check);
        this.off('exit', onExit);
      };
      this.on('fp', check);
      this.on('exit', onExit);
      for (const h of this.fpHits.slice(from)) check(h);
    });
  }

  releaseFailpoint(hit: FpHit): void {
    this.sendRaw({ type: 'fp-release', seq: hit.seq });
  }

  /** Messages outside the command protocol (failpoint control). */
  sendRaw(msg: object): boolean {
    if (this.exited || !this.child.connected) return false;
    try {
      return this.child.send(msg);
    } catch {
      return false;
    }
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** Resolves once the process has exited (and the `exit` event has gone out). */
  whenExited(): Promise<void> {
    return this.exitP;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Lifecycle commands sent to this process (an app's `suspended` names the one it answers). */
  lifecycleSent = 0;

  send(cmd: Command): boolean {
    if (this.exited || !this.child.connected) return false;
    // Counted once handed to the channel (a `false` from child.send still queues it).
    if (cmd.type === 'lifecycle') this.lifecycleSent++;
    try {
      return this.child.send(cmd);
    } catch {
      return false;
    }
  }

  /**
   * Resolve with the first event (already received or future, after index
   * `from`) matching `pred`; reject with PROTO_TIMEOUT after `timeoutMs`, or
   * at once if the process exits first.
   */
  waitFor(
    pred: (e: EventMsg) => boolean,
    opts: { timeoutMs?: number; from?: number; what?: string } = {},
  ): Promise<EventMsg> {
    const from = opts.from ?? 0;
    for (let i = from; i < this.events.length; i++) if (pred(this.events[i]!)) return Promise.resolve(this.events[i]!);
    const timeoutMs = opts.timeoutMs ?? 20_000;
    return new Promise((resolve, reject) => {
      const cleanup = () => {
        clearTimeout(t);
        this.off('event', onEv);
        this.off('exit', onExit);
      };
      const onEv = (e: EventMsg) => {
        if (pred(e)) {
          cleanup();
          resolve(e);
        }
      };
      const onExit = () => {
        cleanup();
        reject(new NsekitError('PROTO_CLOSED', `${this.role} exited (${this.exitCode ?? this.exitSignal}) before ${opts.what ?? 'event'}`));
      };
      const t = setTimeout(() => {
        cleanup();
        reject(new NsekitError('PROTO_TIMEOUT', `${this.role} pid ${this.pid}: no ${opts.what ?? 'matching event'} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.on('event', onEv);
      if (this.exited) onExit();
      else this.on('exit', onExit);
    });
  }

  waitEvent(name: EventName, match: Record<string, unknown> = {}, opts: { timeoutMs?: number; from?: number } = {}): Promise<EventMsg> {
    return this.waitFor((e) => e.name === name && Object.entries(match).every(([k, v]) => e[k] === v), {
      ...opts,
      what: `event ${name} ${JSON.stringify(match)}`,
    });
  }

  count(name: EventName): number {
    return this.events.filter((e) => e.name === name).length;
  }

  signal(sig: 'SIGSTOP' | 'SIGCONT' | 'SIGKILL' | 'SIGTERM'): void {
    if (this.exited) return;
    try {
      this.child.kill(sig);
    } catch {
      return;
    }
    if (sig === 'SIGSTOP') this.stopped = true;
    if (sig === 'SIGCONT') this.stopped = false;
  }

  /** Wait for exit (bounded). */
  async exit(timeoutMs = 10_000): Promise<boolean> {
    if (this.exited) return true;
    let t: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((r) => (t = setTimeout(() => r(false), timeoutMs)));
    const ok = await Promise.race([this.exitP.then(() => true as const), timedOut]);
    clearTimeout(t);
    return ok;
  }

  /** Ask politely (shutdown over IPC), then SIGKILL; always reaped on return. */
  async stop(graceMs = 3_000): Promise<void> {
    if (this.exited) return;
    if (this.stopped) this.signal('SIGCONT');
    if (this.send({ type: 'shutdown' }) && (await this.exit(graceMs))) return;
    this.signal('SIGKILL');
    await this.exit(10_000);
  }

  async kill(): Promise<void> {
    this.signal('SIGKILL');
    await this.exit(10_000);
  }
}
