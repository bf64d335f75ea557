import { isCalendlyError } from '../calendly/port.js';
import { DomainError, UnavailableError, UpstreamError } from '../domain/errors.js';

/**
 * What a connection flow answers for a failure it did not raise itself. Calendly failures are
 * transient for the caller; the original error is kept as the cause (it never carries a token).
 */
export function toFlowFailure(e: unknown): DomainError {
  if (e instanceof DomainError) return e;
  if (isCalendlyError(e)) {
    switch (e.kind) {
      case 'rate_limited':
        return new UnavailableError('calendly_rate_limited', 'Calendly is rate limiting this account; please try again in a minute.', { cause: e });
      case 'forbidden':
        return new UpstreamError('calendly_forbidden', 'Calendly refused the request (missing permission, scope or plan).', { cause: e });
      case 'network':
      case 'upstream':
        return new UpstreamError('calendly_unavailable', 'Calendly could not be reached; please try again.', { cause: e });
      default:
        return new UpstreamError('calendly_error', 'Calendly answered with an unexpected error; please try again.', { cause: e });
    }
  }
  return new UnavailableError('temporarily_unavailable', 'The connection could not be updated right now; please try again.', { cause: e });
}

/** Calendly looked unreachable (as opposed to refusing us). */
export const isTransientCalendly = (e: unknown) =>
  isCalendlyError(e, 'network') || isCalendlyError(e, 'upstream') || isCalendlyError(e, 'rate_limited');
