/**
 * Per-connection liveness bookkeeping for the idle and frame timeouts (real
 * time, not the injected clock: these protect sockets, and a simulated clock
 * advanced by hours in a test must not cut live connections).
 *
 * `ws` has no per-frame timeout, so the frame timeout is done at the socket
 * level: the relay listens to the raw socket's `data` events *after* ws (ws
 * attaches its listener in `setSocket`, before the upgrade callback, and parses
 * each chunk synchronously: `allowSynchronousEvents` and no permessage-deflate).
 * So when our listener runs, every frame the chunk completed has already been
 * reported through onMessage/onControl:
 * - a chunk that completed no frame leaves bytes of an unfinished one → the
 *   partial clock starts (if not already running);
 * - a complete data message stops it;
 * - control frames (Ping/Pong, which may be interleaved between the fragments
 *   of a message) count as activity but do not stop it, so a client cannot
 *   hold a fragmented message open forever by pinging.
 * A chunk that completes one frame and starts the next arms the clock only
 * with the next chunk: the slack is one chunk.
 */
export class Liveness {
  /** Last complete frame of any kind (or the upgrade). */
  lastFrameAt: number;
  /** When the first byte of the unfinished data message arrived; null when none. */
  partialSince: number | null = null;
  /** The relay sent its keep-alive Ping since the last frame. */
  pinged = false;
  private completedInChunk = false;

  constructor(now: number) {
    this.lastFrameAt = now;
  }

  /** A complete data message (text or binary, all fragments). */
  onMessage(now: number): void {
    this.lastFrameAt = now;
    this.pinged = false;
    this.partialSince = null;
    this.completedInChunk = true;
  }

  /** A complete Ping or Pong. */
  onControl(now: number): void {
    this.lastFrameAt = now;
    this.pinged = false;
    this.completedInChunk = true;
  }

  /** Raw socket bytes, called after ws has parsed them. */
  onChunk(now: number): void {
    if (this.completedInChunk) {
      this.completedInChunk = false;
      return;
    }
    if (this.partialSince === null) this.partialSince = now;
  }

  /** What the periodic sweep should do with this connection now. */
  check(now: number, idleTimeoutMs: number, frameTimeoutMs: number): 'ok' | 'ping' | 'idle' | 'frame' {
    if (frameTimeoutMs > 0 && this.partialSince !== null && now - this.partialSince >= frameTimeoutMs) return 'frame';
    if (idleTimeoutMs > 0) {
      const silent = now - this.lastFrameAt;
      if (silent >= idleTimeoutMs) return 'idle';
      if (!this.pinged && silent >= idleTimeoutMs / 2) return 'ping';
    }
    return 'ok';
  }
}
