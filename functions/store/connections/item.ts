/**
 * One item per user: the Calendly connection. This module owns the item's layout.
 *
 * Layout (top-level attributes; `userId` and `status` are read directly by the ingest handler):
 *   userId (pk), status: 'connected'|'authorization_required'|'disconnected', connectionId,
 *   version (N, bumped by every flow write), createdAt / updatedAt (ISO),
 *   calendlyUserUri, organizationUri, email, eventsFilter ('user'|'user_and_organization': the
 *   /scheduled_events filter form Calendly accepted for this connection, once learned),
 *   accessTokenSealed, refreshTokenSealed (SecretBox, AAD `<userId>#access|#refresh`),
 *   tokenExpiresAt (N ms), tokenScope, tokenVersion (N: bumped on every new token pair, and on
 *   disconnect, so a late refresh never writes a pair back), tokenRefreshedAt (N ms),
 *   refreshLeaseOwner / refreshLeaseUntil (the cross-Lambda refresh lease),
 *   leaseOwner / leaseUntil (the connection lease serialising connect/reconnect/disconnect),
 *   lastRunOwner / lastRunOutcome / lastRunCode / lastRunMessage / lastRunAt (what the last lease
 *   holder answered, so reconnects that waited for it answer the same),
 *   webhookUri, hookKey, webhookState ('active'|'disabled'|'missing'), webhookCheckedAt (N ms),
 *   webhookHealthyAt (N ms: last time the hook was seen active),
 *   checkShard (S, sparse: present only while health checks should run) / nextCheckAt (N ms),
 *   lastCheckedAt (N ms), lastCheckOutcome, lastSyncAt (N ms),
 *   lastError: {code, message, at}, cleanupPending (BOOL),
 *   prevUserUri / prevOrganizationUri / prevHookKey / prevParkedAt / prevAccessTokenSealed /
 *   prevRefreshTokenSealed (AAD `<userId>#prev-access|#prev-refresh`) / prevTokenExpiresAt: the
 *   Calendly account this user switched away from, parked by the connect that switched (in the
 *   same write that stored the new pair) until its hooks are deleted and its tokens revoked.
 *
 * Every change is one conditional UpdateItem (no transactions: dynalite has none). Expiry of
 * leases is compared against the caller's clock in the condition, never left to TTL.
 */
import { GetCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import type { ConnectionStatus, EventsFilter, RunOutcome, WebhookHealth } from '../../domain/connection.js';
import type { SecretBox } from '../../shared/crypto.js';

/** Health checks are spread over this many GSI partitions (byCheckDue.checkShard). */
export const CHECK_SHARDS = 8;

/** When nothing else says so, a connection is checked this long after a flow touched it. */
export const DEFAULT_CHECK_INTERVAL_MS = 15 * 60_000;

export function checkShardOf(userId: string): string {
  return String(createHash('sha256').update(userId).digest().readUInt32BE(0) % CHECK_SHARDS);
}

export interface Connection {
  userId: string;
  status: ConnectionStatus;
  connectionId: string;
  version: number;
  createdAt?: string;
  updatedAt?: string;
  calendlyUserUri?: string;
  organizationUri?: string;
  email?: string;
  eventsFilter?: EventsFilter;
  tokenExpiresAt?: number;
  tokenVersion: number;
  hasTokens: boolean;
  refreshLease?: { owner: string; until: number };
  lease?: { owner: string; until: number };
  lastRun?: { owner: string; outcome: RunOutcome; code?: string; message?: string; at: number };
  webhook?: { uri?: string; hookKey?: string; state: WebhookHealth; checkedAt?: number; healthyAt?: number };
  checkShard?: string;
  nextCheckAt?: number;
  lastCheckedAt?: number;
  lastCheckOutcome?: string;
  lastSyncAt?: number;
  lastError?: { code: string; message: string; at: number };
  cleanupPending: boolean;
  /** A Calendly account switched away from whose cleanup at Calendly is not finished yet. */
  previousAccount?: { calendlyUserUri: string; organizationUri?: string; hookKey?: string; hasTokens: boolean; parkedAt: number };
}

/** The parked account with its tokens opened (cleanup only). */
export interface PreviousAccount {
  calendlyUserUri: string;
  organizationUri?: string;
  hookKey?: string;
  tokens?: { accessToken: string; refreshToken: string; expiresAt: number };
}

export interface StoredTokens {
  accessToken: string;
  refreshToken: string;
  expiresAt: number;
  tokenVersion: number;
}

export interface Profile {
  calendlyUserUri: string;
  organizationUri: string;
  email: string;
}

export type LeaseAttempt = { taken: true } | { taken: false; current: Connection | undefined };

export const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : v === undefined || v === null ? undefined : Number(v));
export const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

export function toConnection(item: Record<string, unknown>): Connection {
  const leaseOwner = str(item.leaseOwner);
  const refreshOwner = str(item.refreshLeaseOwner);
  const lastRunOwner = str(item.lastRunOwner);
  const webhookState = str(item.webhookState) as WebhookHealth | undefined;
  const lastError = item.lastError as { code?: string; message?: string; at?: number } | undefined;
  return {
    userId: String(item.userId),
    status: item.status as ConnectionStatus,
    connectionId: str(item.connectionId) ?? '',
    version: num(item.version) ?? 0,
    createdAt: str(item.createdAt),
    updatedAt: str(item.updatedAt),
    calendlyUserUri: str(item.calendlyUserUri),
    organizationUri: str(item.organizationUri),
    email: str(item.email),
    ...(item.eventsFilter === 'user' || item.eventsFilter === 'user_and_organization' ? { eventsFilter: item.eventsFilter } : {}),
    tokenExpiresAt: num(item.tokenExpiresAt),
    tokenVersion: num(item.tokenVersion) ?? 0,
    hasTokens: typeof item.refreshTokenSealed === 'string',
    refreshLease: refreshOwner ? { owner: refreshOwner, until: num(item.refreshLeaseUntil) ?? 0 } : undefined,
    lease: leaseOwner ? { owner: leaseOwner, until: num(item.leaseUntil) ?? 0 } : undefined,
    lastRun: lastRunOwner
      ? {
          owner: lastRunOwner,
          outcome: item.lastRunOutcome as RunOutcome,
          code: str(item.lastRunCode),
          message: str(item.lastRunMessage),
          at: num(item.lastRunAt) ?? 0,
        }
      : undefined,
    webhook:
      webhookState || item.webhookUri
        ? {
            uri: str(item.webhookUri),
            hookKey: str(item.hookKey),
            state: webhookState ?? 'missing',
            checkedAt: num(item.webhookCheckedAt),
            healthyAt: num(item.webhookHealthyAt),
          }
        : undefined,
    checkShard: str(item.checkShard),
    nextCheckAt: num(item.nextCheckAt),
    lastCheckedAt: num(item.lastCheckedAt),
    lastCheckOutcome: str(item.lastCheckOutcome),
    lastSyncAt: num(item.lastSyncAt),
    lastError: lastError?.code ? { code: lastError.code, message: lastError.message ?? '', at: num(lastError.at) ?? 0 } : undefined,
    cleanupPending: item.cleanupPending === true,
    previousAccount:
      typeof item.prevUserUri === 'string'
        ? {
            calendlyUserUri: item.prevUserUri,
            organizationUri: str(item.prevOrganizationUri),
            hookKey: str(item.prevHookKey),
            hasTokens: typeof item.prevRefreshTokenSealed === 'string',
            parkedAt: num(item.prevParkedAt) ?? 0,
          }
        : undefined,
  };
}

export const iso = (ms: number) => new Date(ms).toISOString();

/** One connections table as the parts of the store use it. */
export interface ConnectionTable {
  box: SecretBox;
  update(input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>): Promise<unknown>;
  /** Consistent read of the raw item. */
  read(userId: string): Promise<Record<string, unknown> | undefined>;
}

export function connectionTable(doc: DynamoDBDocumentClient, tableName: string, box: SecretBox): ConnectionTable {
  return {
    box,
    update: (input) => doc.send(new UpdateCommand({ TableName: tableName, ...input })),
    read: async (userId) =>
      (await doc.send(new GetCommand({ TableName: tableName, Key: { userId }, ConsistentRead: true }))).Item as Record<string, unknown> | undefined,
  };
}
