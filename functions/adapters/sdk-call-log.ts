/**
 * When SDK_CALL_LOG names a file, every AWS SDK command a Lambda's code issues is appended to it
 * as one JSON line: which Lambda (the scope its handler edge opened, shared/invocation.ts), the
 * IAM action it needs, and the table, index or queue it touches. The integration suites run with
 * it set, and test/support/sdk-call-log.ts then checks each line against the function's role
 * (lib/permissions.ts). Off (no middleware at all) unless the variable is set; calls outside a
 * handler (test setup, the rotation command) are not recorded: no Lambda issued them.
 */
import { appendFileSync } from 'node:fs';
import { currentLambda } from '../shared/invocation.js';

export interface SdkCall {
  lambda: string;
  action: string;
  table?: string;
  index?: string;
  queueUrl?: string;
  secretId?: string;
}

// The document client's commands run as their raw command (GetItemCommand for GetCommand) through
// the raw client's stack, so each call is seen once, under the raw command's name.
const TRANSACT_ACTION: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem', Get: 'GetItem' };

type Input = Record<string, unknown>;

export type LoggedService = 'dynamodb' | 'sqs' | 'secretsmanager' | 'events';

export function describeCall(service: LoggedService, command: string, input: Input): Array<Omit<SdkCall, 'lambda'>> {
  const name = command.replace(/Command$/, '');
  if (service === 'dynamodb') {
    if (name === 'BatchGetItem' || name === 'BatchWriteItem') return Object.keys((input.RequestItems as Input) ?? {}).map((table) => ({ action: `dynamodb:${name}`, table }));
    if (name === 'TransactWriteItems' || name === 'TransactGetItems') {
      return ((input.TransactItems as Input[]) ?? []).flatMap((item) =>
        Object.entries(item).map(([kind, op]) => ({ action: `dynamodb:${TRANSACT_ACTION[kind] ?? kind}`, table: String((op as Input).TableName) })),
      );
    }
    return [{ action: `dynamodb:${name}`, ...(input.TableName ? { table: String(input.TableName) } : {}), ...(input.IndexName ? { index: String(input.IndexName) } : {}) }];
  }
  // SendMessageBatch is authorized as sqs:SendMessage.
  if (service === 'sqs') return [{ action: `sqs:${name === 'SendMessageBatch' ? 'SendMessage' : name}`, ...(input.QueueUrl ? { queueUrl: String(input.QueueUrl) } : {}) }];
  if (service === 'events') return [{ action: `events:${name}` }];
  return [{ action: `secretsmanager:${name}`, ...(input.SecretId ? { secretId: String(input.SecretId) } : {}) }];
}

interface Stack {
  add(middleware: unknown, options: { step: 'initialize'; name: string; override?: boolean }): void;
}

/** Adds the recording middleware to a client when SDK_CALL_LOG is set. */
export function logSdkCalls(client: { middlewareStack: unknown }, service: LoggedService): void {
  const file = process.env.SDK_CALL_LOG;
  if (!file) return;
  (client.middlewareStack as Stack).add(
    (next: (args: { input: Input }) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: Input }) => {
      const lambda = currentLambda();
      const calls = lambda && context.commandName ? describeCall(service, context.commandName, args.input) : [];
      if (calls.length) appendFileSync(file, calls.map((c) => JSON.stringify({ lambda, ...c })).join('\n') + '\n');
      return next(args);
    },
    { step: 'initialize', name: 'sdkCallLog', override: true },
  );
}
