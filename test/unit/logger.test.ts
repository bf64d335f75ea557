import { afterEach, describe, expect, it } from 'vitest';
import { logger, logSinks } from '../../functions/shared/logger.js';

describe('service logger (Powertools Logger with the redacting formatter)', () => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = (line: Record<string, unknown>) => void lines.push(line);
  afterEach(() => {
    logSinks.splice(logSinks.indexOf(sink), 1);
    lines.length = 0;
  });

  it('logs an error as an error: name, message, stack and cause survive; secret-named fields do not', () => {
    logSinks.push(sink);
    const cause = new Error('socket hang up');
    const err = Object.assign(new Error('refresh failed', { cause }), { refreshToken: 'rt-must-not-appear' });
    logger.error('token refresh failed', { error: err, userId: 'u1', accessToken: 'at-must-not-appear' });
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    const error = line.error as { name: string; message: string; stack: string | string[]; cause: { message: string } };
    expect(error.name).toBe('Error');
    expect(error.message).toBe('refresh failed');
    expect(String(error.stack)).toContain('logger.test.ts');
    expect(error.cause.message).toBe('socket hang up');
    expect(line.userId).toBe('u1');
    expect(JSON.stringify(line)).not.toMatch(/must-not-appear/);
  });

  it('carries the Lambda context on the lines after addContext', () => {
    logSinks.push(sink);
    logger.addContext({ functionName: 'calendly-webhook', awsRequestId: 'req-42', invokedFunctionArn: 'arn:fn', memoryLimitInMB: '256', functionVersion: '1' } as never);
    logger.warn('with context'); // tests run the service at WARN
    expect(lines[0]).toMatchObject({ message: 'with context', function_request_id: 'req-42', function_name: 'calendly-webhook' });
  });
});
