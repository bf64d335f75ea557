/** The sync worker's flow: see ./run.ts for how a message drives a connection's sync. */
export { processSyncMessage } from './run.js';
export { processPurgeMessage, PURGE_BATCH, type PurgeResult } from './purge.js';
export { mergeWork, resolveWindow } from './work.js';
export * from './types.js';
