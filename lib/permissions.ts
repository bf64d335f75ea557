/**
 * Who may do what: the whole IAM story of the stack in one table, down to the action. Each row
 * is what that Lambda's code calls (its handler, the flows it runs and the store methods those
 * use), not what it could plausibly need: the stack turns every row into policy statements on
 * exactly those tables, indexes, queues and the secret, and into the function's environment, so
 * a function only learns the names of what it may use.
 *
 * Shape, for a test that records the SDK commands each handler issues and checks them against
 * this map (`permissionsOf(name)` flattens a row):
 *   { service: 'dynamodb', action: 'dynamodb:GetItem', table: 'connections' }
 *   { service: 'dynamodb', action: 'dynamodb:Query', table: 'meetings', index: 'byStartTime' }
 *   { service: 'sqs', action: 'sqs:SendMessage', queue: 'sync' }          (SendMessageBatch too)
 *   { service: 'secretsmanager', action: 'secretsmanager:GetSecretValue' }
 *   { service: 'events', action: 'events:PutEvents' }                    (the stack's meeting event bus)
 * A BatchGetItem authorizes per table it names (the webhook's batch read spans meetings and
 * connections). What the Lambda service does with the role for an SQS event source
 * (`EVENT_SOURCE_ACTIONS` on the consumed queue) and the function's own log group are outside
 * the handler's code and listed apart.
 */
import type { QueueName } from '../functions/ports.js';
import { TABLES, type TableKey } from '../functions/store/tables.js';
import type { LambdaName } from './bundling.js';

/** DynamoDB actions this code uses. No Scan, no streams, no DescribeTable (tables are created by the stack). */
export type DynamoAction = 'GetItem' | 'BatchGetItem' | 'Query' | 'PutItem' | 'UpdateItem' | 'DeleteItem' | 'BatchWriteItem';

type IndexOf<K extends TableKey> = (typeof TABLES)[K]['indexes'][number] extends { indexName: infer N } ? N : never;

export type TableAccess<K extends TableKey = TableKey> = {
  /** Actions on the table's own items. */
  actions?: readonly DynamoAction[];
  /** GSIs it queries (`dynamodb:Query` on `<table>/index/<name>`, that index only). */
  queryIndexes?: readonly IndexOf<K>[];
};

export interface FunctionAccess {
  tables: { [K in TableKey]?: TableAccess<K> };
  /** Queues it sends to (`sqs:SendMessage`, which also authorizes SendMessageBatch). */
  sends: readonly QueueName[];
  /** Queue it consumes through an SQS event source. */
  consumes?: QueueName;
  /** Reads the app secret (`secretsmanager:GetSecretValue`): OAuth client, app signing key, token encryption key. */
  secret: boolean;
  /**
   * Publishes `Meeting Changed` events (`events:PutEvents` on the stack's bus, no other bus):
   * the functions that write meetings (webhook ingest, sync) and the health worker, whose
   * sweep publishes what a crash left pending.
   */
  publishes?: boolean;
}

// Store methods → actions (functions/store/*): connections.get/getWithTokens/getPreviousAccount
// GetItem, every other connections write UpdateItem (leases, tokens, webhook, status, checks;
// never Put or Delete), listDue Query byCheckDue; webhookKeys.create PutItem, get GetItem,
// setState* UpdateItem; oauthStates.create PutItem, consume UpdateItem then GetItem to name the
// refusal; meetings.apply BatchGetItem (with the connection's status and the hook key's state
// riding along) + PutItem, applyMany and eventMarks BatchGetItem + PutItem, list Query byStartTime
// and byStatus (and the table itself for an event whose invitees came before its start time),
// purge Query (keys of the user's partition) + BatchWriteItem (deletes);
// parkedWebhooks.park PutItem; syncState.update (and its reconcile claim) GetItem + PutItem.
export const ACCESS: Record<LambdaName, FunctionAccess> = {
  // Status (get), connect (an OAuth state), reconnect (lease, token refresh, webhook step: new
  // hook keys, retire old ones), disconnect (previous account, hook keys retired); a repaired
  // connection queues a sync.
  connections: {
    tables: {
      connections: { actions: ['GetItem', 'UpdateItem'] },
      oauthStates: { actions: ['PutItem'] },
      webhookKeys: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
    },
    sends: ['sync'],
    secret: true,
  },
  // Lists the caller's meetings through the start-time and status indexes (and the table's own
  // range of an event whose invitees arrived before its start time), only while the caller's
  // connection is not disconnected (its status read by key). A status page reads its meetings'
  // invitees by key (BatchGetItem), from the ids each event item lists.
  meetings: {
    tables: { meetings: { actions: ['Query', 'BatchGetItem'], queryIndexes: ['byStartTime', 'byStatus'] }, connections: { actions: ['GetItem'] } },
    sends: [],
    secret: false,
  },
  // Consumes the state, exchanges the code, stores tokens, creates the webhook, queues the first sync.
  'oauth-callback': {
    tables: {
      oauthStates: { actions: ['UpdateItem', 'GetItem'] },
      connections: { actions: ['GetItem', 'UpdateItem'] },
      webhookKeys: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
    },
    sends: ['sync'],
    secret: true,
  },
  // Looks up the hook key (once per warm container), reads the connection's status and the key's
  // state (in the meetings batch read, or alone before parking), applies the meeting (UpdateItem:
  // a version reservation, the outbox clear after publishing its Meeting Changed events), parks
  // what it cannot parse. Never replays parked
  // bodies (no read or delete there), never sees OAuth states or sync state.
  webhook: {
    tables: {
      webhookKeys: { actions: ['BatchGetItem', 'GetItem'] },
      connections: { actions: ['BatchGetItem', 'GetItem'] },
      meetings: { actions: ['BatchGetItem', 'PutItem', 'UpdateItem'] },
      parkedWebhooks: { actions: ['PutItem'] },
    },
    sends: [],
    secret: true,
    publishes: true,
  },
  ping: { tables: {}, sends: [], secret: false },
  // Pages Calendly for one connection (token via the refresh lease on the connection) into
  // meetings, one conditional put per item that moved; when out of time or rate-limited it hands
  // the rest to a new sync message. Purges a disconnected user's meetings (Query of the
  // partition's keys, deletes through BatchWriteItem) and re-queues the purge with its cursor.
  'sync-worker': {
    tables: {
      connections: { actions: ['GetItem', 'UpdateItem'] },
      syncState: { actions: ['GetItem', 'PutItem'] },
      meetings: { actions: ['BatchGetItem', 'PutItem', 'UpdateItem', 'BatchWriteItem', 'Query'] },
    },
    sends: ['sync'],
    consumes: 'sync',
    secret: true,
    publishes: true,
  },
  // Finds due connections through byCheckDue and fans them out; reads nothing else, writes
  // nothing (the health worker records each check), never calls Calendly.
  'health-scheduler': { tables: { connections: { queryIndexes: ['byCheckDue'] } }, sends: ['health'], secret: false },
  // Refreshes tokens, repairs webhooks (new hook keys), finishes pending disconnects, records the
  // check, queues a sync after a repair and a reconciliation sync once per interval (claimed on
  // the sync state), and sweeps the user's Meeting Changed outbox (byOutbox, the items read again,
  // published, cleared). It never starts a connect, so no OAuth states.
  'health-worker': {
    tables: {
      connections: { actions: ['GetItem', 'UpdateItem'] },
      webhookKeys: { actions: ['GetItem', 'PutItem', 'UpdateItem'] },
      syncState: { actions: ['GetItem', 'PutItem'] },
      meetings: { actions: ['BatchGetItem', 'UpdateItem'], queryIndexes: ['byOutbox'] },
    },
    sends: ['sync'],
    consumes: 'health',
    secret: true,
    publishes: true,
  },
};

/** What the Lambda service's poller does with the function's role on the queue it consumes (granted by the event source). */
export const EVENT_SOURCE_ACTIONS = ['sqs:ReceiveMessage', 'sqs:ChangeMessageVisibility', 'sqs:GetQueueUrl', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'] as const;

/** What the Lambda service does with the health scheduler's role when a scheduled invocation fails every retry: send it to the schedule's DLQ. */
export const ASYNC_FAILURE_DESTINATION_ACTIONS = ['sqs:SendMessage'] as const;

export type Permission =
  | { service: 'dynamodb'; action: `dynamodb:${DynamoAction}`; table: TableKey; index?: string }
  | { service: 'sqs'; action: 'sqs:SendMessage'; queue: QueueName }
  | { service: 'secretsmanager'; action: 'secretsmanager:GetSecretValue' }
  | { service: 'events'; action: 'events:PutEvents' };

/** One row of ACCESS as a flat list of (action, resource) pairs: what the handler's code may call. */
export function permissionsOf(name: LambdaName): Permission[] {
  const row = ACCESS[name];
  const out: Permission[] = [];
  for (const [table, access] of Object.entries(row.tables) as [TableKey, TableAccess][]) {
    for (const a of access.actions ?? []) out.push({ service: 'dynamodb', action: `dynamodb:${a}`, table });
    for (const index of access.queryIndexes ?? []) out.push({ service: 'dynamodb', action: 'dynamodb:Query', table, index });
  }
  for (const queue of row.sends) out.push({ service: 'sqs', action: 'sqs:SendMessage', queue });
  if (row.secret) out.push({ service: 'secretsmanager', action: 'secretsmanager:GetSecretValue' });
  if (row.publishes) out.push({ service: 'events', action: 'events:PutEvents' });
  return out;
}
