import { createHash } from 'node:crypto';
import { DeleteCommand, GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { isConditionFailure } from './dynamo.js';

/**
 * Signed webhook bodies we could not parse or validate, kept byte for byte so they can be
 * replayed once the schemas understand them. The id is a hash of (hook key, body), so the
 * same undeliverable body parked twice (Calendly retries) is one item.
 *
 * Layout: { id (pk), userId, hookKey, body (binary: the raw bytes), reason, receivedAt (ISO),
 *           expiresAtEpoch (TTL, seconds; expiry is also checked in code) }
 */
export const PARKED_TTL_SECONDS = 30 * 24 * 3600;

export interface ParkedWebhook {
  id: string;
  userId: string;
  hookKey: string;
  body: Buffer;
  reason: string;
  receivedAt: string;
  expiresAtEpoch: number;
}

export interface ParkedWebhookStore {
  /** 'parked' for a new item, 'already_parked' when the same body was parked before. */
  park(input: { userId: string; hookKey: string; body: Buffer; reason: string; nowMs: number }): Promise<{ id: string; result: 'parked' | 'already_parked' }>;
  /** Undefined when absent or expired (DynamoDB's TTL deletes late; dynalite never does). */
  get(id: string, nowMs: number): Promise<ParkedWebhook | undefined>;
  delete(id: string): Promise<void>;
}

export const parkedIdOf = (hookKey: string, body: Buffer): string =>
  createHash('sha256').update(hookKey).update('\n').update(body).digest('hex');

export function createParkedWebhookStore(doc: DynamoDBDocumentClient, tableName: string): ParkedWebhookStore {
  return {
    async park({ userId, hookKey, body, reason, nowMs }) {
      const id = parkedIdOf(hookKey, body);
      try {
        await doc.send(
          new PutCommand({
            TableName: tableName,
            Item: {
              id,
              userId,
              hookKey,
              body: new Uint8Array(body),
              reason: reason.slice(0, 500),
              receivedAt: new Date(nowMs).toISOString(),
              expiresAtEpoch: Math.floor(nowMs / 1000) + PARKED_TTL_SECONDS,
            },
            ConditionExpression: 'attribute_not_exists(id)',
          }),
        );
        return { id, result: 'parked' };
      } catch (err) {
        if (isConditionFailure(err)) return { id, result: 'already_parked' };
        throw err;
      }
    },
    async get(id, nowMs) {
      const res = await doc.send(new GetCommand({ TableName: tableName, Key: { id }, ConsistentRead: true }));
      const item = res.Item;
      if (!item) return undefined;
      const expiresAtEpoch = Number(item.expiresAtEpoch);
      if (expiresAtEpoch * 1000 <= nowMs) return undefined;
      return {
        id,
        userId: String(item.userId),
        hookKey: String(item.hookKey),
        body: Buffer.from(item.body as Uint8Array),
        reason: String(item.reason),
        receivedAt: String(item.receivedAt),
        expiresAtEpoch,
      };
    },
    async delete(id) {
      await doc.send(new DeleteCommand({ TableName: tableName, Key: { id } }));
    },
  };
}
