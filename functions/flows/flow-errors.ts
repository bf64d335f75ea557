import { isCalendlyError } from '../calendly/port.js';
import { AppError } from '../shared/errors.js';

/** Calendly failures are transient for the caller: nothing here ever carries a token. */
export function toAppError(e: unknown): AppError {
  if (e instanceof AppError) return e;
  if (isCalendlyError(e)) {
    switch (e.kind) {
      case 'rate_limited':
        return new AppError(503, 'calendly_rate_limited', 'Calendly is rate limiting this account; please try again in a minute.');
      case 'forbidden':
        return new AppError(502, 'calendly_forbidden', 'Calendly refused the request (missing permission, scope or plan).');
      case 'network':
      case 'upstream':
        return new AppError(502, 'calendly_unavailable', 'Calendly could not be reached; please try again.');
      default:
        return new AppError(502, 'calendly_error', 'Calendly answered with an unexpected error; please try again.');
    }
  }
  return new AppError(503, 'temporarily_unavailable', 'The connection could not be updated right now; please try again.');
}

/** Calendly looked unreachable (as opposed to refusing us). */
export const isTransientCalendly = (e: unknown) =>
  isCalendlyError(e, 'network') || isCalendlyError(e, 'upstream') || isCalendlyError(e, 'rate_limited');
