import { createServer, type Server } from 'node:http';

/**
 * Between the push gateway and the device: the gateway delivers here (we
 * registered this URL for the device's token); we answer 200 at once, as the
 * device does, and hand the body on — or hold it while `delay-push` is in
 * force. Held pushes go out in arrival order when released.
 */
export class PushHold {
  private server: Server | null = null;
  private held: unknown[] = [];
  private holding = false;
  private timer: NodeJS.Timeout | null = null;
  url = '';
  received = 0;

  constructor(private readonly deliver: (body: unknown) => void) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        let body: unknown;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          return;
        }
        this.received++;
        if (this.holding) this.held.push(body);
        else this.deliver(body);
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    const a = this.server.address();
    this.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}/push`;
  }

  /** A push the scenario makes itself (`push` verb): subject to the hold like any other. */
  inject(body: unknown): void {
    this.received++;
    if (this.holding) this.held.push(body);
    else this.deliver(body);
  }

  hold(): void {
    this.holding = true;
  }

  /** `delay-push ms`: hold for `ms`, then release (0: release now); a new delay replaces the old. */
  holdFor(ms: number, onReleased: (n: number) => void): void {
    this.clearTimer();
    if (ms <= 0) return onReleased(this.release());
    this.hold();
    this.timer = setTimeout(() => {
      this.timer = null;
      onReleased(this.release());
    }, ms);
  }

  clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get heldCount(): number {
    return this.held.length;
  }

  /** Stop holding and deliver everything held, oldest first. */
  release(): number {
    this.holding = false;
    const out = this.held;
    this.held = [];
    for (const b of out) this.deliver(b);
    return out.length;
  }

  async close(): Promise<void> {
    this.clearTimer();
    this.held = [];
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeAllConnections?.();
    this.server = null;
  }
}
