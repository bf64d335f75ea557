import { GetCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { createHash } from 'node:crypto';
import type { TokenSet } from '../domain/tokens.js';
import type { SecretBox } from '../shared/crypto.js';
import { emitMetric } from '../shared/metrics.js';
import type { ConnectionStatus, RunOutcome, WebhookHealth } from '../domain/connection.js';

/**
 * One item per user: the Calendly connection. This module owns the item's layout.
 *
 * Layout (top-level attributes; `userId` and `status` are read directly by the ingest handler):
 *   userId (pk), status: 'connected'|'authorization_required'|'disconnected', connectionId,
 *   version (N, bumped by every flow write), createdAt / updatedAt (ISO),
 *   calendlyUserUri, organizationUri, email,
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

export interface ConnectionStore {
  get(userId: string): Promise<Connection | undefined>;
  /** Consistent read with the tokens opened; undefined when there is no item. */
  getWithTokens(userId: string): Promise<{ conn: Connection; tokens?: StoredTokens } | undefined>;

  // --- connection lease -----------------------------------------------------------------
  tryTakeLease(userId: string, owner: string, nowMs: number, leaseMs: number): Promise<LeaseAttempt>;
  /**
   * Connect: writes the freshly exchanged token pair and takes the lease in one write. Creates
   * the item when absent. Conditional on the item's version as read (`expectedVersion`, or
   * absence when undefined) and on the lease being free, expired or ours.
   *
   * With `previous` (the user consented as another Calendly account) the old account is parked
   * in the same write: its identity, recorded hook key and (when given) its tokens, so its
   * cleanup can never be lost between steps. Then also conditional on `tokenVersion` being the
   * one whose tokens are parked and on no other account being parked; the old hook fields and
   * email go (they describe the old account).
   */
  startConnect(
    userId: string,
    input: {
      tokens: TokenSet;
      owner: string;
      nowMs: number;
      leaseMs: number;
      connectionId: string;
      expectedVersion: number | undefined;
      previous?: {
        calendlyUserUri: string;
        organizationUri?: string;
        hookKey?: string;
        tokens?: { accessToken: string; refreshToken: string; expiresAt: number };
        tokenVersion: number;
      };
    },
  ): Promise<boolean>;
  /** The parked account with its tokens opened; undefined when none is parked. */
  getPreviousAccount(userId: string): Promise<PreviousAccount | undefined>;
  /** Stores a rotated pair of the parked account (conditional on that account still being parked). */
  savePreviousTokens(userId: string, input: { calendlyUserUri: string; tokens: TokenSet }): Promise<boolean>;
  /** Forgets the parked account once it is cleaned up (conditional on it still being the one parked). */
  clearPreviousAccount(userId: string, calendlyUserUri: string): Promise<boolean>;
  /** Removes the lease without recording a run (owner only). */
  releaseLease(userId: string, owner: string): Promise<boolean>;
  /** Removes the lease and records what the run answered. Only the owner's write succeeds. */
  finishRun(
    userId: string,
    owner: string,
    input: { outcome: RunOutcome; nowMs: number; profile?: Profile; error?: { code: string; message: string } },
  ): Promise<boolean>;

  // --- tokens -------------------------------------------------------------------------------
  tryTakeRefreshLease(userId: string, owner: string, nowMs: number, leaseMs: number): Promise<boolean>;
  releaseRefreshLease(userId: string, owner: string): Promise<void>;
  /**
   * Persists a rotated pair. Conditional on tokenVersion still being the one whose refresh token
   * was spent. Also releases the refresh lease when it is still ours. 'stale' = a newer pair (or
   * a disconnect) is already stored.
   */
  saveRefreshedTokens(userId: string, input: { tokens: TokenSet; expectedTokenVersion: number; owner: string; nowMs: number }): Promise<'saved' | 'stale'>;
  /** Refused refresh: only while still connected on the version whose refresh token was refused. */
  markAuthorizationRequired(userId: string, input: { tokenVersion: number; nowMs: number; code: string; message: string }): Promise<boolean>;

  // --- webhook ------------------------------------------------------------------------------
  /**
   * Design step 5: the hook onto the connection, one conditional write: the connection is not
   * disconnected and the lease is free, expired or `leaseOwner`'s.
   */
  recordWebhook(userId: string, input: { webhookUri: string; hookKey: string; nowMs: number; leaseOwner?: string }): Promise<boolean>;

  // --- disconnect -------------------------------------------------------------------------
  /**
   * Marks the connection disconnected (lease owner only). With cleanupPending the sealed tokens
   * stay (the health checker needs them to delete the hook and revoke) and the item stays in
   * the check index; otherwise tokens, hook and index entry go.
   */
  markDisconnected(userId: string, owner: string, input: { cleanupPending: boolean; nowMs: number; retryAtMs?: number }): Promise<boolean>;

  // --- health / sync helpers ---------------------------------------------------------------
  listDue(shard: number, nowMs: number, limit: number, startKey?: unknown): Promise<{ items: Array<{ userId: string; nextCheckAt: number }>; nextKey?: unknown }>;
  /** No version bump; never resurrects a disconnected (cleaned-up) connection. */
  recordCheck(userId: string, input: { outcome: string; checkedAt: number; nextCheckAt: number; webhookState?: WebhookHealth }): Promise<boolean>;
  recordSyncCompleted(userId: string, atMs: number): Promise<boolean>;
}

const isConditionFailure = (e: unknown) => e instanceof Error && e.name === 'ConditionalCheckFailedException';

async function conditional(run: () => Promise<unknown>): Promise<boolean> {
  try {
    await run();
    return true;
  } catch (e) {
    if (isConditionFailure(e)) return false;
    throw e;
  }
}

const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : v === undefined || v === null ? undefined : Number(v));
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function toConnection(item: Record<string, unknown>): Connection {
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

const iso = (ms: number) => new Date(ms).toISOString();

export function createConnectionStore(doc: DynamoDBDocumentClient, tableName: string, box: SecretBox): ConnectionStore {
  const update = (input: Omit<ConstructorParameters<typeof UpdateCommand>[0], 'TableName'>) =>
    doc.send(new UpdateCommand({ TableName: tableName, ...input }));

  const sealTokens = (userId: string, t: TokenSet) => ({
    ':at': box.seal(t.accessToken, `${userId}#access`),
    ':rt': box.seal(t.refreshToken, `${userId}#refresh`),
    ':exp': t.expiresAt,
    ':scope': t.scope ?? null,
  });

  const read = async (userId: string) =>
    (await doc.send(new GetCommand({ TableName: tableName, Key: { userId }, ConsistentRead: true }))).Item as Record<string, unknown> | undefined;

  return {
    async get(userId) {
      const item = await read(userId);
      return item ? toConnection(item) : undefined;
    },

    async getWithTokens(userId) {
      const item = await read(userId);
      if (!item) return undefined;
      const conn = toConnection(item);
      if (typeof item.accessTokenSealed !== 'string' || typeof item.refreshTokenSealed !== 'string') return { conn };
      return {
        conn,
        tokens: {
          accessToken: box.open(item.accessTokenSealed, `${userId}#access`),
          refreshToken: box.open(item.refreshTokenSealed, `${userId}#refresh`),
          expiresAt: num(item.tokenExpiresAt) ?? 0,
          tokenVersion: conn.tokenVersion,
        },
      };
    },

    async tryTakeLease(userId, owner, nowMs, leaseMs) {
      const ok = await conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: 'SET leaseOwner = :o, leaseUntil = :u',
          ConditionExpression: 'attribute_exists(userId) AND (attribute_not_exists(leaseOwner) OR leaseUntil < :now)',
          ExpressionAttributeValues: { ':o': owner, ':u': nowMs + leaseMs, ':now': nowMs },
        }),
      );
      if (ok) return { taken: true };
      const item = await read(userId);
      return { taken: false, current: item ? toConnection(item) : undefined };
    },

    async startConnect(userId, { tokens, owner, nowMs, leaseMs, connectionId, expectedVersion, previous }) {
      const versionGuard = expectedVersion === undefined ? 'attribute_not_exists(userId)' : '#v = :ev';
      const park: { sets: string[]; removes: string[]; values: Record<string, unknown>; guard: string } = { sets: [], removes: [], values: {}, guard: '' };
      if (previous) {
        park.sets.push('prevUserUri = :pu', 'prevParkedAt = :now');
        park.values[':pu'] = previous.calendlyUserUri;
        park.values[':ptv'] = previous.tokenVersion;
        if (previous.organizationUri) {
          park.sets.push('prevOrganizationUri = :porg');
          park.values[':porg'] = previous.organizationUri;
        }
        if (previous.hookKey) {
          park.sets.push('prevHookKey = :phk');
          park.values[':phk'] = previous.hookKey;
        }
        if (previous.tokens) {
          park.sets.push('prevAccessTokenSealed = :pat', 'prevRefreshTokenSealed = :prt', 'prevTokenExpiresAt = :pexp');
          park.values[':pat'] = box.seal(previous.tokens.accessToken, `${userId}#prev-access`);
          park.values[':prt'] = box.seal(previous.tokens.refreshToken, `${userId}#prev-refresh`);
          park.values[':pexp'] = previous.tokens.expiresAt;
        }
        park.removes.push('webhookUri', 'hookKey', 'webhookState', 'webhookCheckedAt', 'webhookHealthyAt', 'email');
        // The parked tokens are exactly the stored ones (a refresh meanwhile would have spent them).
        park.guard = ' AND tokenVersion = :ptv AND attribute_not_exists(prevUserUri)';
      }
      return conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: [
            'SET #s = :connected, connectionId = :cid, #v = if_not_exists(#v, :zero) + :one',
            'createdAt = if_not_exists(createdAt, :iso), updatedAt = :iso',
            'accessTokenSealed = :at, refreshTokenSealed = :rt, tokenExpiresAt = :exp, tokenScope = :scope',
            'tokenVersion = if_not_exists(tokenVersion, :zero) + :one, tokenRefreshedAt = :now',
            'calendlyUserUri = :user, organizationUri = :org',
            'leaseOwner = :o, leaseUntil = :lu',
            // Due at once: if this run dies before the hook is recorded, the health checker repairs it.
            'checkShard = :shard, nextCheckAt = :now',
            ...park.sets,
          ].join(', ') + ` REMOVE ${['cleanupPending', 'lastError', ...park.removes].join(', ')}`,
          ConditionExpression: `${versionGuard} AND (attribute_not_exists(leaseOwner) OR leaseUntil < :now OR leaseOwner = :o)${park.guard}`,
          ExpressionAttributeNames: { '#s': 'status', '#v': 'version' },
          ExpressionAttributeValues: {
            ...sealTokens(userId, tokens),
            ':connected': 'connected',
            ':cid': connectionId,
            ':zero': 0,
            ':one': 1,
            ':iso': iso(nowMs),
            ':now': nowMs,
            ':user': tokens.ownerUri,
            ':org': tokens.organizationUri,
            ':o': owner,
            ':lu': nowMs + leaseMs,
            ':shard': checkShardOf(userId),
            ...(expectedVersion === undefined ? {} : { ':ev': expectedVersion }),
            ...park.values,
          },
        }),
      );
    },

    async getPreviousAccount(userId) {
      const item = await read(userId);
      if (!item || typeof item.prevUserUri !== 'string') return undefined;
      const sealed = typeof item.prevAccessTokenSealed === 'string' && typeof item.prevRefreshTokenSealed === 'string';
      return {
        calendlyUserUri: item.prevUserUri,
        organizationUri: str(item.prevOrganizationUri),
        hookKey: str(item.prevHookKey),
        ...(sealed
          ? {
              tokens: {
                accessToken: box.open(String(item.prevAccessTokenSealed), `${userId}#prev-access`),
                refreshToken: box.open(String(item.prevRefreshTokenSealed), `${userId}#prev-refresh`),
                expiresAt: num(item.prevTokenExpiresAt) ?? 0,
              },
            }
          : {}),
      };
    },

    async savePreviousTokens(userId, { calendlyUserUri, tokens }) {
      return conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: 'SET prevAccessTokenSealed = :pat, prevRefreshTokenSealed = :prt, prevTokenExpiresAt = :pexp',
          ConditionExpression: 'prevUserUri = :pu',
          ExpressionAttributeValues: {
            ':pat': box.seal(tokens.accessToken, `${userId}#prev-access`),
            ':prt': box.seal(tokens.refreshToken, `${userId}#prev-refresh`),
            ':pexp': tokens.expiresAt,
            ':pu': calendlyUserUri,
          },
        }),
      );
    },

    async clearPreviousAccount(userId, calendlyUserUri) {
      return conditional(() =>
        update({
          Key: { userId },
          UpdateExpression:
            'REMOVE prevUserUri, prevOrganizationUri, prevHookKey, prevParkedAt, prevAccessTokenSealed, prevRefreshTokenSealed, prevTokenExpiresAt',
          ConditionExpression: 'prevUserUri = :pu',
          ExpressionAttributeValues: { ':pu': calendlyUserUri },
        }),
      );
    },

    async releaseLease(userId, owner) {
      return conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: 'REMOVE leaseOwner, leaseUntil',
          ConditionExpression: 'leaseOwner = :o',
          ExpressionAttributeValues: { ':o': owner },
        }),
      );
    },

    async finishRun(userId, owner, { outcome, nowMs, profile, error }) {
      const sets = ['lastRunOwner = :o', 'lastRunOutcome = :out', 'lastRunAt = :now', 'updatedAt = :iso'];
      const removes = ['leaseOwner', 'leaseUntil'];
      const values: Record<string, unknown> = { ':o': owner, ':out': outcome, ':now': nowMs, ':iso': iso(nowMs) };
      if (profile) {
        sets.push('calendlyUserUri = :user', 'organizationUri = :org', 'email = :email');
        Object.assign(values, { ':user': profile.calendlyUserUri, ':org': profile.organizationUri, ':email': profile.email });
      }
      if (error) {
        sets.push('lastRunCode = :code', 'lastRunMessage = :msg', 'lastError = :err');
        Object.assign(values, { ':code': error.code, ':msg': error.message, ':err': { code: error.code, message: error.message, at: nowMs } });
      } else {
        removes.push('lastRunCode', 'lastRunMessage');
        if (outcome === 'connected') removes.push('lastError');
      }
      return conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
          ConditionExpression: 'leaseOwner = :o',
          ExpressionAttributeValues: values,
        }),
      );
    },

    async tryTakeRefreshLease(userId, owner, nowMs, leaseMs) {
      return conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: 'SET refreshLeaseOwner = :o, refreshLeaseUntil = :u',
          ConditionExpression: 'attribute_exists(userId) AND (attribute_not_exists(refreshLeaseOwner) OR refreshLeaseUntil < :now)',
          ExpressionAttributeValues: { ':o': owner, ':u': nowMs + leaseMs, ':now': nowMs },
        }),
      );
    },

    async releaseRefreshLease(userId, owner) {
      // Owner-checked: a lease that expired and was taken over is never released by us (the
      // flaw of a constant-valued lock with a blind delete).
      await conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: 'REMOVE refreshLeaseOwner, refreshLeaseUntil',
          ConditionExpression: 'refreshLeaseOwner = :o',
          ExpressionAttributeValues: { ':o': owner },
        }),
      );
    },

    async saveRefreshedTokens(userId, { tokens, expectedTokenVersion, owner, nowMs }) {
      const base = {
        Key: { userId },
        ExpressionAttributeValues: {
          ...sealTokens(userId, tokens),
          ':ev': expectedTokenVersion,
          ':one': 1,
          ':now': nowMs,
          ':iso': iso(nowMs),
          ':o': owner,
        },
      };
      const sets =
        'SET accessTokenSealed = :at, refreshTokenSealed = :rt, tokenExpiresAt = :exp, tokenScope = :scope, tokenVersion = tokenVersion + :one, tokenRefreshedAt = :now, updatedAt = :iso';
      // Normal case: still our lease and our version: save and release in one write.
      if (
        await conditional(() =>
          update({ ...base, UpdateExpression: `${sets} REMOVE refreshLeaseOwner, refreshLeaseUntil`, ConditionExpression: 'tokenVersion = :ev AND refreshLeaseOwner = :o' }),
        )
      ) {
        return 'saved';
      }
      // Our lease was taken over (we outlived it) but no newer pair exists: the pair we hold is
      // the only live one (our refresh spent the stored refresh token), so it must be saved; the
      // other owner's lease is left alone.
      const { ':o': _unused, ...values } = base.ExpressionAttributeValues;
      const saved = await conditional(() =>
        update({ Key: base.Key, ExpressionAttributeValues: values, UpdateExpression: sets, ConditionExpression: 'tokenVersion = :ev' }),
      );
      return saved ? 'saved' : 'stale';
    },

    async markAuthorizationRequired(userId, { tokenVersion, nowMs, code, message }) {
      const marked = await conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: 'SET #s = :ar, lastError = :err, updatedAt = :iso, #v = #v + :one REMOVE checkShard',
          ConditionExpression: '#s = :connected AND tokenVersion = :tv',
          ExpressionAttributeNames: { '#s': 'status', '#v': 'version' },
          ExpressionAttributeValues: {
            ':ar': 'authorization_required',
            ':connected': 'connected',
            ':tv': tokenVersion,
            ':err': { code, message, at: nowMs },
            ':iso': iso(nowMs),
            ':one': 1,
          },
        }),
      );
      // Counted once per transition (the write is conditional on still being connected), so
      // the ConnectionsAuthorizationRequired alarm sees users who must click Reconnect.
      if (marked) emitMetric('ConnectionsAuthorizationRequired', 1);
      return marked;
    },

    async recordWebhook(userId, { webhookUri, hookKey, nowMs, leaseOwner }) {
      return conditional(() =>
        update({
          Key: { userId },
          UpdateExpression:
            'SET webhookUri = :uri, hookKey = :hk, webhookState = :active, webhookCheckedAt = :now, webhookHealthyAt = :now, ' +
            '#v = #v + :one, updatedAt = :iso, checkShard = :shard, nextCheckAt = :next',
          ConditionExpression:
            'attribute_exists(userId) AND #s <> :disconnected AND (attribute_not_exists(leaseOwner) OR leaseUntil < :now OR leaseOwner = :o)',
          ExpressionAttributeNames: { '#s': 'status', '#v': 'version' },
          ExpressionAttributeValues: {
            ':uri': webhookUri,
            ':hk': hookKey,
            ':active': 'active',
            ':now': nowMs,
            ':one': 1,
            ':iso': iso(nowMs),
            ':shard': checkShardOf(userId),
            ':next': nowMs + DEFAULT_CHECK_INTERVAL_MS,
            ':disconnected': 'disconnected',
            // An owner no lease can have when the caller holds none.
            ':o': leaseOwner ?? '-',
          },
        }),
      );
    },

    async markDisconnected(userId, owner, { cleanupPending, nowMs, retryAtMs }) {
      const values: Record<string, unknown> = {
        ':d': 'disconnected',
        ':o': owner,
        ':one': 1,
        ':now': nowMs,
        ':iso': iso(nowMs),
        ':run': 'disconnected',
      };
      const sets = [
        '#s = :d',
        '#v = #v + :one',
        // A refresh still in flight for the old pair must not write it back.
        'tokenVersion = tokenVersion + :one',
        'updatedAt = :iso',
        'lastRunOwner = :o',
        'lastRunOutcome = :run',
        'lastRunAt = :now',
      ];
      const removes = ['leaseOwner', 'leaseUntil', 'webhookUri', 'hookKey', 'webhookState', 'webhookCheckedAt', 'lastRunCode', 'lastRunMessage'];
      if (cleanupPending) {
        sets.push('cleanupPending = :true', 'checkShard = :shard', 'nextCheckAt = :retry');
        Object.assign(values, { ':true': true, ':shard': checkShardOf(userId), ':retry': retryAtMs ?? nowMs });
      } else {
        removes.push('cleanupPending', 'checkShard', 'nextCheckAt', 'accessTokenSealed', 'refreshTokenSealed', 'tokenExpiresAt', 'tokenScope', 'lastError');
      }
      return conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: `SET ${sets.join(', ')} REMOVE ${removes.join(', ')}`,
          ConditionExpression: 'leaseOwner = :o',
          ExpressionAttributeNames: { '#s': 'status', '#v': 'version' },
          ExpressionAttributeValues: values,
        }),
      );
    },

    async listDue(shard, nowMs, limit, startKey) {
      const out = await doc.send(
        new QueryCommand({
          TableName: tableName,
          IndexName: 'byCheckDue',
          KeyConditionExpression: 'checkShard = :s AND nextCheckAt <= :now',
          ExpressionAttributeValues: { ':s': String(shard), ':now': nowMs },
          ProjectionExpression: 'userId, nextCheckAt',
          Limit: limit,
          ExclusiveStartKey: startKey as Record<string, unknown> | undefined,
        }),
      );
      return {
        items: (out.Items ?? []).map((i) => ({ userId: String(i.userId), nextCheckAt: Number(i.nextCheckAt) })),
        ...(out.LastEvaluatedKey ? { nextKey: out.LastEvaluatedKey } : {}),
      };
    },

    async recordCheck(userId, { outcome, checkedAt, nextCheckAt, webhookState }) {
      const sets = ['lastCheckOutcome = :out', 'lastCheckedAt = :at', 'nextCheckAt = :next'];
      const values: Record<string, unknown> = { ':out': outcome, ':at': checkedAt, ':next': nextCheckAt, ':connected': 'connected', ':true': true };
      if (webhookState) {
        sets.push('webhookState = :ws', 'webhookCheckedAt = :at');
        values[':ws'] = webhookState;
        if (webhookState === 'active') sets.push('webhookHealthyAt = :at');
      }
      return conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: `SET ${sets.join(', ')}`,
          ConditionExpression: 'attribute_exists(userId) AND (#s = :connected OR cleanupPending = :true)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: values,
        }),
      );
    },

    async recordSyncCompleted(userId, atMs) {
      return conditional(() =>
        update({
          Key: { userId },
          UpdateExpression: 'SET lastSyncAt = :at',
          ConditionExpression: 'attribute_exists(userId)',
          ExpressionAttributeValues: { ':at': atMs },
        }),
      );
    },
  };
}
