/** The connection lease that serialises connect, reconnect and disconnect, and the connect write that takes it. */
import type { RunOutcome } from '../../domain/connection.js';
import type { TokenSet } from '../../domain/tokens.js';
import { conditional } from '../dynamo.js';
import { checkShardOf, iso, toConnection, type ConnectionTable, type LeaseAttempt, type Profile } from './item.js';
import { sealTokens } from './tokens.js';

export interface ConnectionLease {
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
  /** Removes the lease without recording a run (owner only). */
  releaseLease(userId: string, owner: string): Promise<boolean>;
  /** Removes the lease and records what the run answered. Only the owner's write succeeds. */
  finishRun(
    userId: string,
    owner: string,
    input: { outcome: RunOutcome; nowMs: number; profile?: Profile; error?: { code: string; message: string } },
  ): Promise<boolean>;
}

export function connectionLease(t: ConnectionTable): ConnectionLease {
  const { update, read, box } = t;
  return {
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
            ...sealTokens(box, userId, tokens),
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
  };
}
