import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

export const LOCAL_REGION = 'us-east-1';

/**
 * Lambda timeouts, as lib/stack.ts FUNCTION_SETTINGS sets them (not imported: that would load
 * aws-cdk-lib into the runtime). Handlers read the remaining time from the context (the sync
 * worker stops paging early enough to save its cursor), so locally it must be the same budget.
 */
export const FUNCTION_TIMEOUT_SECONDS: Record<string, number> = {
  connections: 25,
  meetings: 10,
  'oauth-callback': 25,
  webhook: 10,
  ping: 3,
  'sync-worker': 120,
  'health-scheduler': 60,
  'health-worker': 90,
};

export const functionTimeoutMs = (name: string): number => (FUNCTION_TIMEOUT_SECONDS[name] ?? 30) * 1000;
export const LOCAL_ACCOUNT_ID = '000000000000';

/** A Lambda context as the Node runtime hands it to a handler (enough for Powertools). */
export function lambdaContext(functionName: string, timeoutMs = functionTimeoutMs(functionName)): Context {
  const started = Date.now();
  const name = `calendly-${functionName}`;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:function:${name}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, timeoutMs - (Date.now() - started)),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Lambda's answer to a function that overruns its timeout: an error. Locally the function is
 * not stopped (same process); its result is dropped.
 */
export function withFunctionTimeout<T>(name: string, run: () => T | Promise<T>, timeoutMs = functionTimeoutMs(name)): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Task timed out after ${timeoutMs / 1000} seconds`)), timeoutMs);
  });
  return Promise.race([Promise.resolve().then(run), timedOut]).finally(() => clearTimeout(timer));
}
