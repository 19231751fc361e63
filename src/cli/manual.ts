import { createInterface } from 'node:readline';
import { LIFECYCLE_EVENTS, type Command, type LifecycleEvent, type PushItem } from '../device/ipc.js';

/**
 * Manual runs (`nsekit app|nse --config F`): without a device there is no IPC
 * channel, so stdin lines become the same commands the device would send and
 * events are printed as JSON lines on stdout (NSEKIT_EVENTS=stdout).
 */
export function attachStdin(role: 'app' | 'nse'): void {
  process.env.NSEKIT_EVENTS = 'stdout';
  // The entry subscribes to commands only once its runtime is built, and the device sends
  // none before `ready`: lines typed or piped earlier (`(echo unlock K; echo active) | nsekit
  // app …`) wait for the process's own `ready` event line instead of being dropped.
  let ready = false;
  const waiting: Command[] = [];
  const deliver = (cmd: Command) => {
    if (ready) process.emit('message', cmd, undefined);
    else waiting.push(cmd);
  };
  const write = process.stdout.write.bind(process.stdout) as (chunk: unknown, ...rest: unknown[]) => boolean;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    const r = write(chunk, ...rest);
    if (!ready && typeof chunk === 'string' && chunk.startsWith('{"type":"event","name":"ready"')) {
      ready = true;
      setImmediate(() => {
        for (const c of waiting.splice(0)) process.emit('message', c, undefined);
      });
    }
    return r;
  }) as typeof process.stdout.write;
  const rl = createInterface({ input: process.stdin });
  let pushSeq = 0;
  rl.on('line', (line) => {
    const [word, ...args] = line.trim().split(/\s+/);
    if (!word) return;
    let cmd: Command | null = null;
    if ((LIFECYCLE_EVENTS as readonly string[]).includes(word)) {
      cmd = { type: 'lifecycle', event: word as LifecycleEvent, ...(word === 'unlock' ? { masterKey: args[0] ?? '' } : {}) };
    } else if (word === 'send' && args.length >= 2) {
      cmd = { type: 'send', queueId: args[0]!, text: args.slice(1).join(' ') };
    } else if (word === 'push') {
      // A typo in a pasted push must not end the process: say so and keep reading.
      let items: unknown;
      try {
        items = JSON.parse(args.join(' ') || '[]');
      } catch (e) {
        process.stderr.write(`${role}: push: not a JSON array (${(e as Error).message}): ${line}\n`);
        return;
      }
      if (!Array.isArray(items)) {
        process.stderr.write(`${role}: push: expected a JSON array of {notifierId, sealed}: ${line}\n`);
        return;
      }
      cmd = { type: 'push', pushId: `manual${++pushSeq}`, receivedAt: Date.now(), items: items as PushItem[] };
    } else if (word === 'yield') cmd = { type: 'yield' };
    else if (word === 'status') cmd = { type: 'query', what: 'status' };
    else if (word === 'quit') cmd = { type: 'shutdown' };
    if (!cmd) {
      process.stderr.write(`${role}: unknown command: ${line}\n`);
      return;
    }
    // The process entry listens on process 'message', exactly as for IPC.
    deliver(cmd);
  });
  rl.on('close', () => deliver({ type: 'shutdown' }));
}
