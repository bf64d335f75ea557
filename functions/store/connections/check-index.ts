/**
 * The health check index (GSI byCheckDue): which connections are due, and what their last check
 * and sync found. Items leave the index when nothing is left to check (no checkShard).
 */
import { QueryCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { WebhookHealth } from '../../domain/connection.js';
import { conditional } from '../dynamo.js';
import type { ConnectionTable } from './item.js';

export interface ConnectionCheckIndex {
  listDue(shard: number, nowMs: number, limit: number, startKey?: unknown): Promise<{ items: Array<{ userId: string; nextCheckAt: number }>; nextKey?: unknown }>;
  /** No version bump; never resurrects a disconnected (cleaned-up) connection. */
  recordCheck(userId: string, input: { outcome: string; checkedAt: number; nextCheckAt: number; webhookState?: WebhookHealth }): Promise<boolean>;
  recordSyncCompleted(userId: string, atMs: number): Promise<boolean>;
}

export function connectionCheckIndex(t: ConnectionTable, doc: DynamoDBDocumentClient, tableName: string): ConnectionCheckIndex {
  const { update } = t;
  return {
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
