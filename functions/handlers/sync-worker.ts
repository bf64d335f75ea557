import { createSyncWorkerHandler } from '../edge/sync-worker.js';
import { syncWorkerDeps } from '../wiring/sync-worker.js';

/** Consumer of the sync queue. */
export const handler = createSyncWorkerHandler(syncWorkerDeps);
