/** Disconnect: the connection goes, and what is still to clean up at Calendly stays due in the check index. */
import { conditional } from '../dynamo.js';
import { checkShardOf, iso, type ConnectionTable } from './item.js';

export interface ConnectionCleanup {
  /**
   * Marks the connection disconnected (lease owner only). With cleanupPending the sealed tokens
   * stay (the health checker needs them to delete the hook and revoke) and the item stays in
   * the check index; otherwise tokens, hook and index entry go.
   */
  markDisconnected(userId: string, owner: string, input: { cleanupPending: boolean; nowMs: number; retryAtMs?: number }): Promise<boolean>;
}

export function connectionCleanup(t: ConnectionTable): ConnectionCleanup {
  const { update } = t;
  return {
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
  };
}
