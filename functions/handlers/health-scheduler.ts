import { createHealthSchedulerHandler } from '../edge/health-scheduler.js';
import { healthSchedulerDeps } from '../wiring/health-scheduler.js';

/** Invoked by the health schedule. */
export const handler = createHealthSchedulerHandler(healthSchedulerDeps);
