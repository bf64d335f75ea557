/**
 * The connections table: one item per user (layout in ./item.ts). The store is assembled from
 * parts of one concern each; every change is one conditional UpdateItem.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SecretBox } from '../../shared/crypto.js';
import { connectionCalendlyFacts, type ConnectionCalendlyFacts } from './calendly-facts.js';
import { connectionCheckIndex, type ConnectionCheckIndex } from './check-index.js';
import { connectionCleanup, type ConnectionCleanup } from './cleanup.js';
import { connectionTable, toConnection, type Connection } from './item.js';
import { connectionLease, type ConnectionLease } from './lease.js';
import { previousAccountRecord, type PreviousAccountRecord } from './previous-account.js';
import { connectionTokens, type ConnectionTokens } from './tokens.js';
import { connectionWebhook, type ConnectionWebhook } from './webhook.js';

export { CHECK_SHARDS, checkShardOf, DEFAULT_CHECK_INTERVAL_MS } from './item.js';
export type { Connection, LeaseAttempt, PreviousAccount, Profile, StoredTokens } from './item.js';

export interface ConnectionStore
  extends ConnectionLease,
    PreviousAccountRecord,
    ConnectionTokens,
    ConnectionWebhook,
    ConnectionCleanup,
    ConnectionCheckIndex,
    ConnectionCalendlyFacts {
  /** Consistent read; undefined when the user has no connection item. */
  get(userId: string): Promise<Connection | undefined>;
}

export function createConnectionStore(doc: DynamoDBDocumentClient, tableName: string, box: SecretBox): ConnectionStore {
  const t = connectionTable(doc, tableName, box);
  return {
    async get(userId) {
      const item = await t.read(userId);
      return item ? toConnection(item) : undefined;
    },
    ...connectionLease(t),
    ...previousAccountRecord(t),
    ...connectionTokens(t),
    ...connectionWebhook(t),
    ...connectionCleanup(t),
    ...connectionCheckIndex(t, doc, tableName),
    ...connectionCalendlyFacts(t),
  };
}
