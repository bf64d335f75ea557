/** The sealed token pair, its refresh lease, and the move to authorization_required when Calendly refuses it. */
import type { SecretBox } from '../../shared/crypto.js';
import { emitMetric } from '../../shared/metrics.js';
import type { TokenSet } from '../../domain/tokens.js';
import { conditional } from '../dynamo.js';
import { iso, num, toConnection, type Connection, type ConnectionTable, type StoredTokens } from './item.js';

export interface ConnectionTokens {
  /** Consistent read with the tokens opened; undefined when there is no item. */
  getWithTokens(userId: string): Promise<{ conn: Connection; tokens?: StoredTokens } | undefined>;
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
}

/** The token attributes of one pair, sealed with the user id in the AAD (a sealed value cannot be moved to another user). */
export function sealTokens(box: SecretBox, userId: string, t: TokenSet) {
  return {
    ':at': box.seal(t.accessToken, `${userId}#access`),
    ':rt': box.seal(t.refreshToken, `${userId}#refresh`),
    ':exp': t.expiresAt,
    ':scope': t.scope ?? null,
  };
}

export function connectionTokens(t: ConnectionTable): ConnectionTokens {
  const { update, read, box } = t;
  return {
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
          ...sealTokens(box, userId, tokens),
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
  };
}
