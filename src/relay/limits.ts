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
  /** Token bucket per connection: sustained frames per second … */
  ratePerSec: number;
  /** … and burst size. A frame without a token → PROTO_RATE_LIMIT. */
  rateBurst: number;
  /** Consecutive rate-limited frames after which the connection is closed (1008). */
  rateCloseAfter: number;
  /** Outgoing bytes queued for a client that does not read; above → close (1008). */
  maxBufferedBytes: number;
}

export const DEFAULT_LIMITS: RelayLimits = {
  maxFrameBytes: 128 * 1024,
  hardMaxFrameBytes: 256 * 1024,
  maxBodyBytes: 64 * 1024,
  maxQueuesPerConn: 1000,
  maxQueueMessages: 10_000,
  maxConnections: 1024,
  ratePerSec: 500,
  rateBurst: 1000,
  rateCloseAfter: 1000,
  maxBufferedBytes: 8 * 1024 * 1024,
};

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
