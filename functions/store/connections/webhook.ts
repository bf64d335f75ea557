/** The connection's webhook subscription as we recorded it. */
import { conditional } from '../dynamo.js';
import { checkShardOf, DEFAULT_CHECK_INTERVAL_MS, iso, type ConnectionTable } from './item.js';

export interface ConnectionWebhook {
  /**
   * The webhook step's last move: the hook onto the connection, one conditional write: the connection is not
   * disconnected and the lease is free, expired or `leaseOwner`'s.
   */
  recordWebhook(userId: string, input: { webhookUri: string; hookKey: string; nowMs: number; leaseOwner?: string }): Promise<boolean>;
}

export function connectionWebhook(t: ConnectionTable): ConnectionWebhook {
  const { update } = t;
  return {
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
  };
}
