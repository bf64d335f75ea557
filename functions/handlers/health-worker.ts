import { createHealthWorkerHandler } from '../edge/health-worker.js';
import { healthWorkerDeps } from '../wiring/health-worker.js';

/** Consumer of the health queue. */
export const handler = createHealthWorkerHandler(healthWorkerDeps);
