import type { Context } from 'aws-lambda';
import { logger } from '../shared/logger.js';

/**
 * Puts the invocation's Lambda context (request id, function name, cold start) on every log line
 * that follows. Tests and the local runtime may call a handler without one.
 */
export function addLambdaContext(context: Context | undefined): void {
  if (context) logger.addContext(context);
}
