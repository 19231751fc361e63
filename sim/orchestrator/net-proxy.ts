import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * The device's network path to the relay: a loopback TCP proxy the app and NSE
 * connect through (their relayUrl points here). `cut()` destroys every live
 * connection and refuses new ones (accept, then destroy at once: the client
 * sees a reset, like a dead radio); `restore()` accepts again. The sender and
 * the push gateway do not go through it: a partition cuts relay ↔ device only.
 */
export class NetProxy {
  private server: Server | null = null;
  private readonly live = new Set<Socket>();
  private cutoff = false;
  port = 0;

  constructor(private target: number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => this.onConn(client));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
  }

  get partitioned(): boolean {
    return this.cutoff;
  }

  private onConn(client: Socket): void {
    if (this.cutoff) {
      client.destroy();
      return;
    }
    const upstream = connect(this.target, '127.0.0.1');
    for (const s of [client, upstream]) {
      this.live.add(s);
      s.on('error', () => {});
      s.on('close', () => {
        this.live.delete(s);
        (s === client ? upstream : client).destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  cut(): void {
    this.cutoff = true;
    for (const s of this.live) s.destroy();
    this.live.clear();
  }

  restore(): void {
    this.cutoff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server = null;
  }
}
