import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type * as z from 'zod';
import { DomainError, InvalidInputError, type FailureKind } from '../domain/errors.js';
import { runAsLambda, type LambdaName } from '../shared/invocation.js';
import { logger } from '../shared/logger.js';
import { countHandledFailure } from '../shared/metrics.js';
import { addLambdaContext } from './lambda-context.js';

export type HttpEvent = APIGatewayProxyEventV2 & {
  requestContext: APIGatewayProxyEventV2['requestContext'] & {
    authorizer?: { jwt?: { claims?: Record<string, string | number | boolean | string[]> } };
  };
};
export type HttpResult = APIGatewayProxyStructuredResultV2;

/** A refusal that only exists at the HTTP edge (no bearer subject, a body too large to read). */
export class HttpRefusal extends Error {
  override name = 'HttpRefusal';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The one place a failure's kind becomes an HTTP status. */
const STATUS_OF: Record<FailureKind, number> = {
  invalid_input: 400,
  not_found: 404,
  conflict: 409,
  upstream: 502,
  unavailable: 503,
};

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): HttpResult {
  return {
    statusCode,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers },
    body: JSON.stringify(body),
  };
}

export function errorResponse(statusCode: number, error: string, message: string): HttpResult {
  return json(statusCode, { error, message });
}

export function redirect(location: string): HttpResult {
  return { statusCode: 302, headers: { location, 'cache-control': 'no-store' }, body: '' };
}

/** The raw request body as bytes, exactly as API Gateway delivered it. */
export function rawBody(event: HttpEvent): Buffer {
  if (event.body === undefined || event.body === null) return Buffer.alloc(0);
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/** The caller's user id (the JWT `sub`, checked by the authorizer before we run). */
export function userIdOf(event: HttpEvent): string {
  const sub = event.requestContext.authorizer?.jwt?.claims?.sub;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > 256) {
    throw new HttpRefusal(401, 'unauthorized', 'A valid bearer token with a subject is required.');
  }
  return sub;
}

/** Parse a JSON body against a schema; an empty body is parsed as `{}`. */
export function parseJsonBody<T extends z.ZodType>(event: HttpEvent, schema: T): z.infer<T> {
  const raw = rawBody(event);
  if (raw.length > 64 * 1024) throw new HttpRefusal(413, 'payload_too_large', 'The request body is larger than 64 KiB.');
  let data: unknown = {};
  if (raw.length > 0) {
    try {
      data = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new InvalidInputError('invalid_json', 'The request body is not valid JSON.');
    }
  }
  return parseWith(schema, data, 'invalid_body');
}

export function parseWith<T extends z.ZodType>(schema: T, data: unknown, code = 'invalid_request'): z.infer<T> {
  const result = schema.safeParse(data);
  if (!result.success) {
    const first = result.error.issues[0];
    const where = first?.path.length ? `${first.path.join('.')}: ` : '';
    throw new InvalidInputError(code, `${where}${first?.message ?? 'invalid input'}`);
  }
  return result.data;
}

/**
 * Wraps a handler body, run as an invocation of `lambda`: domain errors and edge refusals become their
 * `{error, message}` answer; anything else is logged (without secrets), counted as a handled failure of
 * that Lambda (the alarm that sees the 500s Lambda's own Errors metric never does) and answered as a
 * 500 that says nothing internal.
 */
export function withErrors(event: HttpEvent, body: () => Promise<HttpResult>, context: Context | undefined, lambda: LambdaName): Promise<HttpResult> {
  return runAsLambda(lambda, async () => {
    addLambdaContext(context);
    logger.appendKeys({ correlationId: event.requestContext?.requestId });
    try {
      return await body();
    } catch (err) {
      if (err instanceof DomainError) return errorResponse(STATUS_OF[err.kind], err.code, err.message);
      if (err instanceof HttpRefusal) return errorResponse(err.status, err.code, err.message);
      logger.error('unhandled error', { error: err });
      countHandledFailure(lambda);
      return errorResponse(500, 'internal_error', 'Something went wrong on our side; please try again.');
    }
  });
}
