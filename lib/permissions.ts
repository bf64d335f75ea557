/**
 * Who may touch what: the whole IAM story of the stack in one table. The stack turns each row
 * into CDK grants (never hand-written policies) and into the function's environment, so a
 * function only learns the names of the tables and queues it may use.
 */
import type { QueueName } from '../functions/ports.js';
import type { TableKey } from '../functions/store/tables.js';
import type { LambdaName } from './bundling.js';

export type TableAccess = 'read' | 'write' | 'readWrite';

export interface FunctionAccess {
  tables: Partial<Record<TableKey, TableAccess>>;
  /** Queues it sends to. */
  sends: readonly QueueName[];
  /** Queue it consumes through an SQS event source (grants receive/delete on that queue only). */
  consumes?: QueueName;
  /** Reads the app secret (OAuth client, app signing key, token encryption key). */
  secret: boolean;
}

export const ACCESS: Record<LambdaName, FunctionAccess> = {
  // connect writes an OAuth state; reconnect/disconnect change the connection and its hook keys,
  // and a repaired connection queues a sync.
  connections: {
    tables: { connections: 'readWrite', oauthStates: 'readWrite', webhookKeys: 'readWrite' },
    sends: ['sync'],
    secret: true,
  },
  // Lists the caller's meetings; nothing else.
  meetings: { tables: { meetings: 'read' }, sends: [], secret: false },
  // Consumes the state, exchanges the code, stores tokens, creates the webhook, queues the first sync.
  'oauth-callback': {
    tables: { oauthStates: 'readWrite', connections: 'readWrite', webhookKeys: 'readWrite' },
    sends: ['sync'],
    secret: true,
  },
  // Looks up the hook key and its connection, applies the meeting, parks what it cannot parse.
  // Never sees OAuth states or sync state.
  webhook: {
    tables: { webhookKeys: 'read', connections: 'read', meetings: 'readWrite', parkedWebhooks: 'write' },
    sends: [],
    secret: true,
  },
  ping: { tables: {}, sends: [], secret: false },
  // Pages Calendly for one connection (token via the refresh lease on the connection) into
  // meetings; when out of time or rate-limited it hands the rest to a new sync message.
  'sync-worker': {
    tables: { connections: 'readWrite', syncState: 'readWrite', meetings: 'readWrite' },
    sends: ['sync'],
    consumes: 'sync',
    secret: true,
  },
  // Finds due connections (byCheckDue), pushes their next check time, fans out; never calls Calendly.
  'health-scheduler': { tables: { connections: 'readWrite' }, sends: ['health'], secret: false },
  // Refreshes tokens, repairs webhooks (new hook keys), finishes pending disconnects, queues a
  // sync after a repair. It builds the ConnectionDeps oauthStates store but never calls it (only
  // connect-start/connect do), so it gets no access to OAuth states.
  'health-worker': {
    tables: { connections: 'readWrite', webhookKeys: 'readWrite' },
    sends: ['sync'],
    consumes: 'health',
    secret: true,
  },
};
