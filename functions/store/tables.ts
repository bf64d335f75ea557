/**
 * The one place that names every DynamoDB table, its keys, its GSIs and its TTL attribute.
 * The CDK stack (lib/) and the local runtime (local/) both create tables from this list, so a
 * key schema can never drift between AWS and dynalite. Each item type's attribute layout is
 * owned by the store module named beside it.
 */

export type KeyType = 'S' | 'N';

export interface KeyDef {
  name: string;
  type: KeyType;
}

export interface IndexDef {
  indexName: string;
  partitionKey: KeyDef;
  sortKey?: KeyDef;
}

export interface TableDef {
  /** Stable id used for the CDK construct id and the local table name suffix. */
  id: 'Connections' | 'WebhookKeys' | 'Meetings' | 'OAuthStates' | 'ParkedWebhooks' | 'SyncState';
  /** Environment variable that carries the physical table name to the Lambdas. */
  envVar: string;
  partitionKey: KeyDef;
  sortKey?: KeyDef;
  indexes: IndexDef[];
  /** Epoch-seconds attribute DynamoDB may expire by; code still checks expiry itself. */
  ttlAttribute?: string;
  /** Business data (retain on stack delete) vs. short-lived working state. */
  retain: boolean;
  /** The module that owns this item type's layout. */
  ownedBy: string;
}

export const TABLES = {
  /** One item per user: status, encrypted tokens, leases, current webhook. */
  connections: {
    id: 'Connections',
    envVar: 'CONNECTIONS_TABLE',
    partitionKey: { name: 'userId', type: 'S' },
    indexes: [
      {
        // Sparse: only connections that should be health-checked carry checkShard.
        // Sharded so that one busy partition never limits the fan-out.
        indexName: 'byCheckDue',
        partitionKey: { name: 'checkShard', type: 'S' },
        sortKey: { name: 'nextCheckAt', type: 'N' },
      },
    ],
    retain: true,
    ownedBy: 'functions/store/connections/',
  },
  /** One item per hook key we minted: which user it belongs to and the signing key we sent. */
  webhookKeys: {
    id: 'WebhookKeys',
    envVar: 'WEBHOOK_KEYS_TABLE',
    partitionKey: { name: 'hookKey', type: 'S' },
    indexes: [],
    retain: true,
    ownedBy: 'functions/store/webhook-keys.ts',
  },
  /** Per user: an event item per Calendly scheduled event, an item per invitee (layout: store/meetings/item.ts). */
  meetings: {
    id: 'Meetings',
    envVar: 'MEETINGS_TABLE',
    partitionKey: { name: 'userId', type: 'S' },
    sortKey: { name: 'eventId', type: 'S' },
    indexes: [
      {
        indexName: 'byStartTime',
        partitionKey: { name: 'userId', type: 'S' },
        sortKey: { name: 'startKey', type: 'S' },
      },
      {
        // Sparse: event items only; statusKey = `<userId>#<status>`.
        indexName: 'byStatus',
        partitionKey: { name: 'statusKey', type: 'S' },
        sortKey: { name: 'startKey', type: 'S' },
      },
      {
        // Sparse: items with Meeting Changed events not yet published; outboxKey = userId (store/meetings/outbox.ts).
        indexName: 'byOutbox',
        partitionKey: { name: 'outboxKey', type: 'S' },
        sortKey: { name: 'outboxAt', type: 'S' },
      },
    ],
    retain: true,
    ownedBy: 'functions/store/meetings/',
  },
  /** Single-use OAuth states (with the PKCE verifier), 10-minute life. */
  oauthStates: {
    id: 'OAuthStates',
    envVar: 'OAUTH_STATES_TABLE',
    partitionKey: { name: 'state', type: 'S' },
    indexes: [],
    ttlAttribute: 'expiresAtEpoch',
    retain: false,
    ownedBy: 'functions/store/oauth-states.ts',
  },
  /** Signed webhook bodies we could not parse, kept for replay. */
  parkedWebhooks: {
    id: 'ParkedWebhooks',
    envVar: 'PARKED_WEBHOOKS_TABLE',
    partitionKey: { name: 'id', type: 'S' },
    indexes: [],
    ttlAttribute: 'expiresAtEpoch',
    retain: true,
    ownedBy: 'functions/store/parked-webhooks.ts',
  },
  /** Per-connection sync progress: page cursor and the sync lease. */
  syncState: {
    id: 'SyncState',
    envVar: 'SYNC_STATE_TABLE',
    partitionKey: { name: 'userId', type: 'S' },
    indexes: [],
    retain: false,
    ownedBy: 'functions/store/sync-state.ts',
  },
} as const satisfies Record<string, TableDef>;

export type TableKey = keyof typeof TABLES;

export const ALL_TABLES: readonly TableDef[] = Object.values(TABLES);

/**
 * Physical table names from an environment (the CDK stack and the local runtime set one variable
 * per table a function may use). A missing name throws: a default name would point at a table
 * that does not exist, or at another deployment's.
 */
export function tableNamesFromEnv<K extends TableKey>(env: Readonly<Record<string, string | undefined>>, keys: readonly K[]): Record<K, string> {
  const missing = keys.filter((key) => !env[TABLES[key].envVar]);
  if (missing.length > 0) throw new Error(`invalid configuration: ${missing.map((k) => TABLES[k].envVar).join(', ')} must be set`);
  return Object.fromEntries(keys.map((key) => [key, env[TABLES[key].envVar]])) as Record<K, string>;
}
