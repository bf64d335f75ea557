/**
 * Failures the flows and stores raise on purpose. Each names its kind (the handlers' edge turns
 * kinds into answers, in one place), carries a machine-readable `code`, a message written for a
 * person, and, through ErrorOptions, the error that caused it. None carries a token or key.
 */
export type FailureKind = 'invalid_input' | 'not_found' | 'conflict' | 'unavailable' | 'upstream';

export abstract class DomainError extends Error {
  abstract readonly kind: FailureKind;
  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What the caller sent cannot be served as it is (a query, a page token, a body). */
export class InvalidInputError extends DomainError {
  readonly kind = 'invalid_input';
  override name = 'InvalidInputError';
}

/** There is nothing of that name for this user (e.g. no connection). */
export class NotFoundError extends DomainError {
  readonly kind = 'not_found';
  override name = 'NotFoundError';
}

/** The connection is not in a state that allows this now (busy elsewhere, or needs the user). */
export class ConflictError extends DomainError {
  readonly kind = 'conflict';
  override name = 'ConflictError';
}

/** Calendly no longer accepts this connection's grant: only the user authorizing again helps. */
export class AuthorizationRequiredError extends ConflictError {
  override name = 'AuthorizationRequiredError';
  constructor(message = 'Calendly no longer accepts this connection; the user must authorize again.', options?: ErrorOptions) {
    super('authorization_required', message, options);
  }
}

/** Could not be done right now; the same request may succeed later. */
export class UnavailableError extends DomainError {
  readonly kind = 'unavailable';
  override name = 'UnavailableError';
}

/** Calendly answered in a way we cannot work with. */
export class UpstreamError extends DomainError {
  readonly kind = 'upstream';
  override name = 'UpstreamError';
}
