/** Health: the scheduler's tick (./tick.ts) and one connection's check (./check.ts). */
export * from './tick.js';
export * from './check.js';
