/**
 * The metric contract lives beside the code that emits it (functions/shared/metric-names.ts), so
 * an alarm and the EMF line it watches cannot drift apart; the stack reads it from there.
 */
export * from '../functions/shared/metric-names.js';
