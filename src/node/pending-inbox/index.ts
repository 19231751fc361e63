export { PendingInboxFile } from './inbox-file.js';
export type { ImportOptions, ImportResult, InboxImportTarget } from './inbox-file.js';
export { readInbox, parseInbox, encodeLine, parseLine } from './record.js';
export type { InboxReadResult, InboxBadLine, InboxLine } from './record.js';
