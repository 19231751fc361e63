/**
 * Failpoint names: sites in the core and the processes that announce
 * themselves to the orchestrator (`host.failpoints.hit(name, fields)`). A
 * scenario step can trigger on one (`when: {proc, at}`) and pause or freeze the
 * process exactly there; `expect.hits` lists those a run must reach.
 * The schema's enum is checked against this list by a test.
 */
export const FAILPOINTS = [
  'lock.acquire.start',
  'lock.acquired',
  'lock.release',
  'lock.released',
  'db.tx.begin',
  'db.tx.commit',
  'net.get.sent',
  'net.get.ok',
  'net.get.fail',
  'net.ack.sent',
  'net.ack.ok',
  'net.ack.fail',
  'inbox.append',
  'inbox.append.done',
  'inbox.import.carried',
  'inbox.import.committed',
  'queue.slot.acquired',
  'queue.slot.released',
  'queue.slot.expired',
  'phase.enter',
  'phase.suspended',
  'gate.blocked',
  'gate.opened',
  'inbound.decrypted',
  'db.write.done',
  'notify.shown',
  'bg.window.start',
  'bg.window.expire',
  'bg.window.end',
  'outbox.send',
] as const;

export type FailpointName = (typeof FAILPOINTS)[number];

/** One line each: where the site is, for docs and editor hovers. */
export const FAILPOINT_DOCS: Readonly<Record<FailpointName, string>> = {
  'lock.acquire.start': 'about to try the cross-process lock',
  'lock.acquired': 'just took the lock (holds it now)',
  'lock.release': 'about to let go of the lock',
  'lock.released': 'lock let go',
  'db.tx.begin': 'BEGIN IMMEDIATE done: inside a write transaction',
  'db.tx.commit': 'about to COMMIT (still inside the transaction)',
  'net.get.sent': 'GET written to the relay connection, reply not yet read',
  'net.get.ok': 'GET reply read (message peeked, not deleted)',
  'net.get.fail': 'the GET failed (connection lost, relay error): it returned nothing',
  'net.ack.sent': 'ACK written to the relay, reply not yet read',
  'net.ack.ok': 'relay confirmed the ACK (message deleted at the relay)',
  'net.ack.fail': 'the ACK failed (connection lost, PROTO_NO_MSG: another process ACKed first)',
  'inbox.append': 'about to append a sealed record to the pending inbox file',
  'inbox.append.done': 'pending inbox record appended and fsynced',
  'inbox.import.carried': "an import carried a claim's own notified markers into the live inbox file (claim not yet deleted)",
  'inbox.import.committed': 'a pending-inbox file was imported into the store and the import committed',
  'queue.slot.acquired': 'took the per-queue GET→ACK slot',
  'queue.slot.released': 'gave back the per-queue slot (after ACK, or released without ACK)',
  'queue.slot.expired': 'the slot was given up without ACK (hold timeout, forced suspension): its holder will never ACK or process the message',
  'phase.enter': 'entered a new phase (fields: phase)',
  'phase.suspended': 'all operation classes drained: suspended',
  'gate.blocked': 'an operation is waiting at a closed gate (fields: class)',
  'gate.opened': 'a gate reopened (fields: class)',
  'inbound.decrypted': 'an inbound message was opened (before it is stored)',
  'db.write.done': 'message row written (transaction not yet committed)',
  'notify.shown': 'a user-visible notification was shown/handed to the OS',
  'bg.window.start': 'the app was granted a background window (refresh task, silent push), before any of its work (fields: kind, budgetMs)',
  'bg.window.expire': "the window's expiration handler: no new work starts, the app suspends (fields: kind)",
  'bg.window.end': "the window's work is over (or expired); the app suspends next (fields: kind, expired)",
  'outbox.send': 'an outbox item is about to be SENT (marked sending, its sendNetwork operation not started yet; fields: queueId, clientId)',
};

export function isFailpoint(name: string): name is FailpointName {
  return (FAILPOINTS as readonly string[]).includes(name);
}
