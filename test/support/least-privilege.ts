/**
 * Least privilege, proven: the integration project runs with SDK_CALL_LOG set, so every AWS SDK
 * command a handler issues is recorded (functions/adapters/sdk-call-log.ts: the Lambda, the IAM
 * action, the table, index or queue). After the project, this checks the record against
 * lib/permissions.ts (the map the stack builds each role from; test/cdk/stack.test.ts proves each
 * synthesized role is exactly its row):
 *
 * - every recorded call is allowed by the role of the Lambda that made it;
 * - on a full run (no file filter), every permission of every role was used by some call,
 *   except the few in UNEXERCISED, each with the reason no integration test reaches it.
 *
 * It runs as the integration project's globalSetup, so its teardown sees the whole project.
 */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { SdkCall } from '../../functions/adapters/sdk-call-log.js';
import { TABLES, type TableKey } from '../../functions/store/tables.js';
import { ALL_LAMBDAS, type LambdaName } from '../../lib/bundling.js';
import { permissionsOf, type Permission } from '../../lib/permissions.js';

/** Permissions no integration suite exercises through a handler, and why that is acceptable. */
const SECRETS =
  'no Secrets Manager on this machine: the local runtime and the suites hand the secrets over in the environment; the adapter\'s GetSecretValue is tested with the SDK mocked (test/adapters/secrets.test.ts), and test/cdk/stack.test.ts grants it exactly to the functions that build a SecretBox';

export const UNEXERCISED: Record<string, string> = {
  // Paths the flow-level suites drive (test/connections, test/sync) but no suite reaches through
  // the handler, so no Lambda scope is open when they run.
  'connections dynamodb:PutItem webhookKeys':
    'a reconnect that must re-create the webhook mints a hook key: tested on the reconnect flow (test/connections/reconnect.test.ts), not through the connections handler',
  'health-worker dynamodb:GetItem webhookKeys':
    'the webhook step reads a hook key to adopt a subscription Calendly still lists under an unrecorded key: tested on the flows, not through the health worker',
  'oauth-callback dynamodb:GetItem oauthStates':
    'a refused state (reused or expired) is read back to name the refusal: tested on the connect flow (test/connections/oauth.test.ts), not through the callback handler',
  'meetings dynamodb:Query meetings':
    'the list reads the table\'s own range of an event whose invitees arrived before its start time: tested on the meetings store (test/ingest), not through the meetings handler',
  // The sweep publishes only what a crash or a bus outage left on an outbox: the local runtime's
  // checks (through the handler) find nothing to sweep; the sweep itself is tested on the flow.
  'health-worker dynamodb:BatchGetItem meetings':
    'the sweep re-reads items left on the outbox (and their event items): tested on the flow (test/ingest/meeting-events.test.ts, test/health/health.test.ts), not through the health worker handler',
  'health-worker dynamodb:UpdateItem meetings':
    'the sweep clears the outbox of what it published: tested on the flow (test/ingest/meeting-events.test.ts, test/health/health.test.ts), not through the health worker handler',
  'health-worker events:PutEvents':
    'the sweep publishes what a crash or an outage left behind: tested on the flow with a recording bus (test/health/health.test.ts); the EventBridge adapter against the local bus in test/local/events.test.ts',
  'connections secretsmanager:GetSecretValue': SECRETS,
  'oauth-callback secretsmanager:GetSecretValue': SECRETS,
  'webhook secretsmanager:GetSecretValue': SECRETS,
  'sync-worker secretsmanager:GetSecretValue': SECRETS,
  'health-worker secretsmanager:GetSecretValue': SECRETS,
};

const describePermission = (name: LambdaName, p: Permission) =>
  p.service === 'dynamodb' ? `${name} ${p.action} ${p.table}${p.index ? `/${p.index}` : ''}` : p.service === 'sqs' ? `${name} ${p.action} ${p.queue}` : `${name} ${p.action}`;

/** The table key of a physical name (tests: test-<Id>, local runtime: calendly-<Id>, AWS: <stack>-<Id>...). */
function tableKeyOf(physical: string): TableKey | undefined {
  return (Object.keys(TABLES) as TableKey[]).find((k) => physical === TABLES[k].id || physical.endsWith(`-${TABLES[k].id}`) || physical.includes(`-${TABLES[k].id}-`));
}

function queueOf(url: string): string | undefined {
  const last = url.split('/').pop() ?? '';
  return /dlq/i.test(last) ? undefined : /sync/i.test(last) ? 'sync' : /health/i.test(last) ? 'health' : undefined;
}

/** The permission a recorded call needs, in describePermission's terms; undefined for a resource no role names (a test's missing table). */
export function needed(call: SdkCall): string | undefined {
  const lambda = call.lambda as LambdaName;
  if (call.action.startsWith('dynamodb:')) {
    const key = call.table ? tableKeyOf(call.table) : undefined;
    if (!key) return undefined;
    return `${lambda} ${call.action} ${key}${call.index ? `/${call.index}` : ''}`;
  }
  if (call.action.startsWith('sqs:')) {
    const q = call.queueUrl ? queueOf(call.queueUrl) : undefined;
    return q ? `${lambda} ${call.action} ${q}` : undefined;
  }
  return `${lambda} ${call.action}`;
}

export function check(calls: SdkCall[], full: boolean): string[] {
  const allowed = new Set(ALL_LAMBDAS.flatMap((n) => permissionsOf(n).map((p) => describePermission(n, p))));
  const used = new Set<string>();
  const problems: string[] = [];
  for (const call of calls) {
    const need = needed(call);
    if (!need) continue;
    used.add(need);
    if (!allowed.has(need)) problems.push(`not allowed by its role: ${need}`);
  }
  if (full) {
    for (const p of allowed) if (!used.has(p) && !UNEXERCISED[p]) problems.push(`allowed but never used by the integration suites: ${p} (narrow lib/permissions.ts, or list it in UNEXERCISED with the reason)`);
    for (const p of Object.keys(UNEXERCISED)) if (used.has(p) || !allowed.has(p)) problems.push(`UNEXERCISED lists ${p}, which is ${used.has(p) ? 'exercised now' : 'not a permission'}: remove it`);
  }
  return [...new Set(problems)].sort();
}

/** A full run: `vitest run` with no test-file filter (npm test). */
function isFullRun(argv: string[]): boolean {
  const i = argv.findIndex((a) => a === 'run' || a.endsWith('vitest') || a.endsWith('vitest.mjs'));
  const valued = new Set(['--project', '--reporter', '--config', '-c', '--maxWorkers', '--root', '-r', '--dir']);
  const rest = argv.slice(i + 1).filter((a, j, all) => a !== 'run' && !valued.has(all[j - 1] ?? ''));
  return !rest.some((a) => !a.startsWith('-')) && !rest.some((a) => a === '-t' || a.startsWith('--testNamePattern'));
}

export default function setup(): () => void {
  const dir = join(process.cwd(), '.tmp');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `sdk-calls-${process.pid}.jsonl`);
  rmSync(file, { force: true });
  process.env.SDK_CALL_LOG = file;
  return () => {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // No handler issued a call (a filtered run): nothing to check.
    }
    rmSync(file, { force: true });
    const calls = text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as SdkCall);
    const problems = check(calls, isFullRun(process.argv));
    if (problems.length > 0) {
      const err = new Error(`least privilege: ${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
      err.stack = err.message;
      // vitest reports a teardown error but still exits 0: the run must fail.
      process.exitCode = 1;
      throw err;
    }
  };
}
