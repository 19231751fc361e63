/**
 * Relay wire frames (protocol v1): one JSON object per WebSocket text frame.
 * Every frame has `type`; client commands carry a client-chosen `corrId` that
 * the relay echoes in the answer. These are the *wire* shapes: binary fields
 * (body, keys) are standard base64 strings. See docs/protocol.md.
 */

export const PROTOCOL_VERSION = 1;

export interface WireFlags {
  notification: boolean;
}

// ---- client → relay ----

/** Create a queue. `recipientKey`: Ed25519 public key (base64, 32 bytes) for the signed status endpoint. */
export interface NewCmd {
  type: 'NEW';
  corrId: string;
  recipientKey?: string;
}
export interface SendCmd {
  type: 'SEND';
  corrId: string;
  queueId: string;
  senderCred: string;
  body: string;
  flags: WireFlags;
  /**
   * Optional idempotency key chosen by the sender (1..64 of [A-Za-z0-9_-],
   * unique per queue: random, ≥ 96 bits). A repeated SEND with the same
   * (queueId, clientId) within the relay's dedupe window stores nothing new.
   */
  clientId?: string;
}
/** SUB, GET, UNSUB: recipient commands on one queue. */
export interface RecipientCmd {
  type: 'SUB' | 'GET' | 'UNSUB';
  corrId: string;
  queueId: string;
  cred: string;
}
export interface AckCmd {
  type: 'ACK';
  corrId: string;
  queueId: string;
  cred: string;
  msgId: string;
}
export interface NsubCmd {
  type: 'NSUB';
  corrId: string;
  queueId: string;
  cred: string;
  deviceToken: string;
  /** Who holds the token (e.g. `ios`): 1..16 of [a-z0-9]. Recorded with it (docs/protocol.md "Push tokens"). */
  platform?: string;
  /** The app's version at registration: 1..32 of [A-Za-z0-9._+-]. */
  appVersion?: string;
}
/** Deactivate the queue's push token (logout): the relay stops pushing for this queue until the next NSUB. */
export interface NdelCmd {
  type: 'NDEL';
  corrId: string;
  queueId: string;
  cred: string;
}
/**
 * Fan-out (docs/protocol.md "Fan-out to a user's devices"): a group address over queues the
 * caller may SEND to (one queue per device of the user). GNEW proves each member's sender credential.
 */
export interface GroupMember {
  queueId: string;
  senderCred: string;
}
export interface GnewCmd {
  type: 'GNEW';
  corrId: string;
  members: GroupMember[];
}
/** One member queue's body: sealed end to end for that queue (each device has its own e2e key). */
export interface GroupPart {
  queueId: string;
  body: string;
}
/** Store one message into every member queue in one transaction; `parts` names each member exactly once. */
export interface GsendCmd {
  type: 'GSEND';
  corrId: string;
  groupId: string;
  groupCred: string;
  flags: WireFlags;
  parts: GroupPart[];
  /** Per member queue, as SEND's: a repeated GSEND stores nothing new. */
  clientId?: string;
}
export interface PingCmd {
  type: 'PING';
  corrId: string;
}
export type ClientFrame = NewCmd | SendCmd | RecipientCmd | AckCmd | NsubCmd | NdelCmd | GnewCmd | GsendCmd | PingCmd;
export type ClientCommand = ClientFrame['type'];
export const CLIENT_COMMANDS: readonly ClientCommand[] = ['NEW', 'SEND', 'SUB', 'GET', 'ACK', 'NSUB', 'UNSUB', 'PING', 'NDEL', 'GNEW', 'GSEND'];

// ---- relay → client ----

/** Answer to NEW. Credentials are secrets: recipientCred for SUB/GET/ACK/NSUB/UNSUB, senderCred for SEND. */
export interface IdsFrame {
  type: 'IDS';
  corrId: string;
  queueId: string;
  recipientCred: string;
  senderCred: string;
}
/** Answer to NSUB: the id and key the relay seals notification ids with (base64, 32 bytes). */
export interface NidFrame {
  type: 'NID';
  corrId: string;
  notifierId: string;
  notifierKey: string;
}
/** Answer to GNEW: the group's id and its credential (a secret, authorizes GSEND). */
export interface GidFrame {
  type: 'GID';
  corrId: string;
  groupId: string;
  groupCred: string;
}
export interface OkFrame {
  type: 'OK';
  corrId: string;
  /** Answer to a SEND with `clientId`: the id of the stored message (the original one for a repeat). */
  msgId?: string;
  /** Answer to a SEND with `clientId`: true when this SEND repeated an earlier one and stored nothing. */
  duplicate?: boolean;
  /** Answer to GSEND: each part's stored message id (the original one for a repeat), in the parts' order. */
  msgIds?: string[];
}
/** A message. With `corrId`: the answer to GET. Without: a delivery on a SUB. */
export interface MsgFrame {
  type: 'MSG';
  corrId?: string;
  queueId: string;
  msgId: string;
  ts: number;
  flags: WireFlags;
  body: string;
}
/** An error. `corrId` is absent when the failing frame had none we could read. */
export interface ErrFrame {
  type: 'ERR';
  corrId?: string;
  code: string;
  message?: string;
}
/** The subscription of this connection on `queueId` was taken by a newer subscriber. */
export interface EndFrame {
  type: 'END';
  queueId: string;
}
export interface PongFrame {
  type: 'PONG';
  corrId: string;
}
export type ServerFrame = IdsFrame | NidFrame | GidFrame | OkFrame | MsgFrame | ErrFrame | EndFrame | PongFrame;
export type ServerFrameType = ServerFrame['type'];
export const SERVER_FRAMES: readonly ServerFrameType[] = ['IDS', 'NID', 'OK', 'MSG', 'ERR', 'END', 'PONG', 'GID'];

export type Frame = ClientFrame | ServerFrame;

/** Field limits the codec enforces (characters of the JSON string values). */
export const FIELD_LIMITS = {
  corrId: 64,
  id: 64, // queueId, msgId, notifierId
  clientId: 64,
  cred: 128,
  deviceToken: 200,
  platform: 16,
  groupMembers: 32,
  appVersion: 32,
  errCode: 64,
  errMessage: 500,
} as const;

/** Default largest body (decoded bytes) the codec accepts. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
