import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

/** One frame from the relay (server frames are never masked). */
export interface WireFrame {
  fin: boolean;
  opcode: number;
  payload: Buffer;
}

export const OP = { cont: 0x0, text: 0x1, binary: 0x2, close: 0x8, ping: 0x9, pong: 0xa } as const;

/** A client frame as RFC 6455 wants it on the wire: masked, `fin` optional (fragments). */
export function clientFrame(opcode: number, payload: Buffer | string, fin = true): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const len = data.length;
  const head = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | len]) : Buffer.alloc(4);
  if (len >= 126) {
    if (len > 0xffff) throw new Error('raw-tcp: frames up to 64 KiB only');
    head[0] = (fin ? 0x80 : 0) | opcode;
    head[1] = 0x80 | 126;
    head.writeUInt16BE(len, 2);
  }
  const mask = randomBytes(4);
  const masked = Buffer.alloc(len);
  for (let i = 0; i < len; i++) masked[i] = data[i]! ^ mask[i & 3]!;
  return Buffer.concat([head, mask, masked]);
}

/** The close code of a Close frame (1005 when it carries none). */
export function closeCode(f: WireFrame): number {
  return f.payload.length >= 2 ? f.payload.readUInt16BE(0) : 1005;
}

/** Polls `cond` every 10 ms; throws after `guardMs` (a failure guard, never a duration assertion). */
export async function waitFor(cond: () => boolean, what: string, guardMs = 20_000): Promise<void> {
  const deadline = Date.now() + guardMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A raw TCP client for the relay's socket-level defences: it can stay silent
 * before the upgrade, upgrade and then never answer anything (no automatic
 * Pong), or trickle the bytes of one frame. Everything it receives is kept.
 */
export class RawTcp {
  readonly frames: WireFrame[] = [];
  /** Bytes received from the relay, HTTP response included. */
  bytesIn = 0;
  /** What arrived while no upgrade was requested (e.g. Node's 408), as text. */
  preUpgradeText = '';
  isClosed = false;
  readonly closed: Promise<void>;
  private upgraded = false;
  private httpHead: string | null = null;
  private buf = Buffer.alloc(0);

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      if (!this.upgraded) this.preUpgradeText += chunk.toString('latin1');
      this.buf = Buffer.concat([this.buf, chunk]);
      this.parse();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true;
        resolve();
      }),
    );
  }

  static connect(port: number): Promise<RawTcp> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => resolve(new RawTcp(s)));
      s.once('error', reject);
    });
  }

  /** Sends a valid upgrade request and waits for the 101. */
  async upgrade(): Promise<void> {
    const key = randomBytes(16).toString('base64');
    this.socket.write(`GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`);
    this.upgraded = true;
    await waitFor(() => this.httpHead !== null || this.isClosed, 'the upgrade response');
    if (!this.httpHead?.startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${this.httpHead?.split('\r\n')[0] ?? 'closed'}`);
  }

  write(b: Buffer | string): void {
    this.socket.write(b);
  }

  /** The first frame with this opcode, waiting for it (throws if the socket closes first). */
  async frame(opcode: number, guardMs = 20_000): Promise<WireFrame> {
    await waitFor(() => this.frames.some((f) => f.opcode === opcode) || this.isClosed, `frame ${opcode}`, guardMs);
    const f = this.frames.find((x) => x.opcode === opcode);
    if (!f) throw new Error(`socket closed before a frame with opcode ${opcode}`);
    return f;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private parse(): void {
    if (!this.upgraded) return;
    if (this.httpHead === null) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.httpHead = this.buf.subarray(0, end).toString('latin1');
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      if (this.buf.length < 2) return;
      const b0 = this.buf[0]!;
      let len = this.buf[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        if (this.buf.length < 4) return;
        len = this.buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (this.buf.length < 10) return;
        len = Number(this.buf.readBigUInt64BE(2));
        off = 10;
      }
      if (this.buf.length < off + len) return;
      this.frames.push({ fin: (b0 & 0x80) !== 0, opcode: b0 & 0x0f, payload: Buffer.from(this.buf.subarray(off, off + len)) });
      this.buf = this.buf.subarray(off + len);
    }
  }
}
