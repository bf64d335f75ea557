/** The sync worker's flow: see ./run.ts for how a message drives a connection's sync. */
export { processSyncMessage } from './run.js';
export { mergeWork, resolveWindow } from './work.js';
export * from './types.js';
