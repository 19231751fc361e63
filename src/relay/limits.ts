/** Relay resource limits. Every one is enforced with a typed ERR or a clean close. */
export interface RelayLimits {
  /** Text frames above this get ERR PROTO_TOO_LARGE (the frame is read, then dropped). */
  maxFrameBytes: number;
  /** ws `maxPayload`: frames above this are never buffered; the socket closes with 1009. */
  hardMaxFrameBytes: number;
  /** Decoded SEND body bytes; above → PROTO_TOO_LARGE. */
  maxBodyBytes: number;
  /** Queues a connection may create (NEW) and, separately, hold subscribed (SUB); above → PROTO_QUOTA. */
  maxQueuesPerConn: number;
  /** Un-ACKed messages a queue may hold; SEND above → PROTO_QUOTA. */
  maxQueueMessages: number;
  /** Concurrent WebSocket connections; extra upgrades are answered HTTP 503 and closed. */
  maxConnections: number;
  /**
   * Concurrent WebSocket connections from one remote address (exact address string;
   * IPv4-mapped IPv6 counts as the IPv4 address). Extra upgrades → HTTP 503 PROTO_BUSY.
   * Protects clients at other addresses; clients sharing the address (loopback, NAT) are
   * protected only by the timeouts below.
   */
  maxConnectionsPerAddress: number;
  /** Token bucket per connection: sustained frames per second … */
  ratePerSec: number;
  /** … and burst size. Every frame (text, binary, ping, pong; malformed or oversized too) costs a token. */
  rateBurst: number;
  /** This many rate-limited frames within `rateCloseWindowMs` → the connection is closed (1008). */
  rateCloseAfter: number;
  /** The refusal window for `rateCloseAfter` (ms, relay clock). */
  rateCloseWindowMs: number;
  /** Outgoing bytes queued for a client that does not read; above → close (1008). */
  maxBufferedBytes: number;
  /**
   * A TCP connection must deliver a complete HTTP request head (the WebSocket upgrade or a
   * status request) within this many ms of connecting or of its previous response, else it
   * is destroyed. Real time. 0 = off.
   */
  handshakeTimeoutMs: number;
  /**
   * An upgraded connection that receives no complete frame (any frame, Pong included) for
   * this long is closed with 4000. After half of it in silence the relay sends a WebSocket
   * Ping, which client libraries answer by themselves. Real time. 0 = off.
   */
  idleTimeoutMs: number;
  /**
   * A data message (all its fragments) must complete within this many ms of its first byte,
   * else the connection is closed with 1008 ("frame timeout"). Real time. 0 = off.
   */
  frameTimeoutMs: number;
  /** After the relay sends a Close frame, the socket is destroyed if the client has not closed within this (ms). */
  closeTimeoutMs: number;
}

export const DEFAULT_LIMITS: RelayLimits = {
  maxFrameBytes: 128 * 1024,
  hardMaxFrameBytes: 256 * 1024,
  maxBodyBytes: 64 * 1024,
  maxQueuesPerConn: 1000,
  maxQueueMessages: 10_000,
  maxConnections: 1024,
  maxConnectionsPerAddress: 256,
  ratePerSec: 500,
  rateBurst: 1000,
  rateCloseAfter: 100,
  rateCloseWindowMs: 10_000,
  maxBufferedBytes: 8 * 1024 * 1024,
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  frameTimeoutMs: 30_000,
  closeTimeoutMs: 5_000,
};

/** Close codes the relay sends (docs/protocol.md "Close codes"). */
export const CLOSE_CODES = {
  /** Relay shutting down. */
  shutdown: 1001,
  /** Text frame that is not UTF-8 (sent by ws). */
  badUtf8: 1007,
  /** Rate abuse, unread send buffer, or a frame that did not complete within frameTimeoutMs. */
  policy: 1008,
  /** Frame over hardMaxFrameBytes (sent by ws). */
  tooBig: 1009,
  /** No frame for idleTimeoutMs (the relay's Ping went unanswered). */
  idle: 4000,
} as const;

/** Idempotent SEND: how long the relay remembers (queueId, clientId) → msgId. */
export interface SendDedupeOptions {
  /** A repeated SEND within this window stores nothing new (default 24 h). */
  windowMs: number;
  /** Expired entries deleted per SEND with a clientId (bounded cleanup; also swept at start). */
  cleanupBatch: number;
}

export const DEFAULT_SEND_DEDUPE: SendDedupeOptions = {
  windowMs: 24 * 60 * 60 * 1000,
  cleanupBatch: 32,
};
