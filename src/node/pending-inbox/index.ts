export { PendingInboxFile } from './inbox-file.js';
export type { ImportOptions, ImportResult, InboxImportTarget } from './inbox-file.js';
export { readInbox, parseInbox, encodeLine, encodeMarker, parseLine, markerIds } from './record.js';
export type { InboxReadResult, InboxBadLine, InboxLine, InboxMarker } from './record.js';
