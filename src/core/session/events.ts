/**
 * What a session reports as it works (docs/processes.md "Events"). The Node
 * processes send these to the device over IPC; the fast simulator records
 * them in its history; the bridge hands them to the Swift host. One list, so
 * every host agrees on every name.
 */
export type SessionEventName =
  | 'ready' // process started, config loaded; fields: role, pid
  | 'phase' // phase changed; fields: phase
  | 'suspended' // drained, store closed, lock released; fields: lockHeld, storeOpen, lifecycle? (app: the command it answers)
  | 'activated' // reopened after suspension
  | 'stored' // message stored in the shared store; fields: msgId, queueId, via ('sub'|'get'|'import')
  | 'inboxed' // message appended to the pending inbox (device locked); fields: msgId, queueId
  | 'inbox-marked' // device locked: `notified` marker appended (fresh) or already there (!fresh); fields: msgId, queueId, fresh
  | 'imported' // pending inbox imported into the store; fields: count, records, duplicates, markers
  | 'acked' // relay ACK sent after the durable write; fields: msgId, queueId
  | 'notification' // user-visible notification content; fields: msgId, queueId, title, body, threadId, badge?, pushId?, latencyMs?
  | 'push-start' // NSE began one push; fields: pushId, refs, inFlight (pushes in progress, this one included)
  | 'push-done' // NSE finished one push; fields: pushId, stored, inboxed, expired
  | 'yielding' // NSE received a yield request and starts draining
  | 'yielded' // NSE drained and released after a yield request
  | 'handed-over' // NSE got a push while the app is in front: no GET, the app fetches; fields: pushId, refs
  | 'inbox-wait' // suspension waits for in-flight pending-inbox appends before releasing; fields: inFlight
  | 'rt' // realtime state; fields: state ('subscribed'|'degraded'|'reconnecting'|'closed'), backoffMs?
  | 'sync' // wake-sequence fetch; fields: stage ('start'|'merged'|'poll'), queueId?, count?
  | 'outbox' // outbox state; fields: clientId, state ('sending'|'sent'|'retry'), count?
  | 'wake' // wake sequence finished; fields: reason, mode, loggedOut?, lifecycle? (the `active` command it answers)
  | 'left-front' // app: out of the foreground and no receive in flight — the NSE may GET its queues now
  | 'app-left' // NSE: the app left the foreground, GETs allowed again
  | 'push-token' // app: push token lifecycle; fields: state ('registered'|'deactivated'), platform, token (first 6 chars + …), reason?, queues
  | 'bg-refresh' // app: refresh task scheduled (replaced: an earlier request was replaced, never a second one) or cancelled; fields: state, id, replaced?
  | 'bg-window' // app: a background window (refresh task, silent push); fields: state ('start'|'skip'|'expired'|'end'), kind, reason?, sent?, polled?, notified?
  | 'local-notification' // app: a window's status poll found has_payload: a generic notification, nothing downloaded; fields: queueId, reason
  | 'status' // reply to query
  | 'badge' // app: the icon's badge = unread messages (docs/notifications.md); fields: count
  | 'thread-read' // app: a tap opened a conversation — remove its delivered notifications, set the badge; fields: threadId, queueId, msgIds, badge?; app or NSE with `remote: true`: read on another device — remove the notifications of `msgIds` only
  | 'read-sync' // app: a read here was sent to the user's other devices; fields: state ('sent'), queueId, upTo, devices, of
  | 'error'; // fields: code, message, where

export interface EventSink {
  emit(name: SessionEventName, fields?: Record<string, unknown>): void;
}

/**
 * Whether an app's `suspended` report (its `lifecycle` field) answers the last of the `sent`
 * lifecycle commands a host sent to that app instance: only then is its background time over
 * and the host may freeze it. A report without the field (an older app) answers any.
 */
export function suspendedAnswersLast(fields: Record<string, unknown>, sent: number | undefined): boolean {
  const seq = fields.lifecycle;
  return typeof seq !== 'number' || seq >= (sent ?? 0);
}
