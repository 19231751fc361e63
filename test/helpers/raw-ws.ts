import WebSocket from 'ws';

/**
 * A deliberately dumb WebSocket client for bad-input tests: it speaks the `ws`
 * package directly (never our WsTransport) so it can send anything.
 */
export class RawWs {
  private readonly frames: unknown[] = [];
  private waiters: Array<() => void> = [];
  readonly closed: Promise<{ code: number; reason: string }>;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? { binary: true } : JSON.parse(data.toString()));
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.wake();
      });
    });
    ws.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Opens a socket; rejects with `{status}` when the relay answers the upgrade with an HTTP error. */
  static open(url: string, opts: { timeoutMs?: number } = {}): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      const t = setTimeout(() => {
        ws.terminate();
        reject(new Error('raw ws open timed out'));
      }, opts.timeoutMs ?? 20_000);
      ws.once('open', () => {
        clearTimeout(t);
        resolve(new RawWs(ws));
      });
      ws.once('unexpected-response', (_req, res) => {
        clearTimeout(t);
        const status = res.statusCode ?? 0;
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => reject(Object.assign(new Error(`HTTP ${status}`), { status, body })));
        res.on('error', () => reject(Object.assign(new Error(`HTTP ${status}`), { status, body })));
      });
      ws.once('error', (e) => {
        clearTimeout(t);
        reject(e);
      });
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendText(s: string): void {
    this.ws.send(s);
  }

  sendJson(o: unknown): void {
    this.ws.send(JSON.stringify(o));
  }

  sendBinary(b: Uint8Array): void {
    this.ws.send(b, { binary: true });
  }

  /** Next frame (parsed JSON); rejects if the socket closes first or after `timeoutMs`. */
  async next(timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.frames.length > 0) return this.frames.shift() as Record<string, unknown>;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error('socket closed while waiting for a frame');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('timed out waiting for a frame');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Send a JSON command and return the next frame. */
  async call(o: unknown): Promise<Record<string, unknown>> {
    this.sendJson(o);
    return this.next();
  }

  close(): void {
    this.ws.terminate();
  }
}
