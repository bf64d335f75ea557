import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SecretBox } from '../shared/crypto.js';
import { isConditionFailure } from './dynamo.js';

/**
 * Single-use OAuth states. One item per state we hand out in an authorize URL:
 *   { state (pk), userId, codeVerifierSealed (SecretBox, AAD `oauth#<state>`), createdAt (N ms),
 *     expiresAt (N ms, checked in code), expiresAtEpoch (N s, DynamoDB TTL, best effort),
 *     usedAt (N ms, set once by consume) }
 * Consuming is one conditional write (not used yet, not expired), so a replayed callback never
 * exchanges a code twice; the verifier is removed in that same write.
 */
export const OAUTH_STATE_TTL_MS = 10 * 60_000;

export type ConsumeResult =
  | { kind: 'ok'; userId: string; codeVerifier: string }
  | { kind: 'unknown' }
  | { kind: 'expired' }
  | { kind: 'replayed' };

export interface OAuthStateStore {
  create(input: { state: string; userId: string; codeVerifier: string; nowMs: number; ttlMs?: number }): Promise<void>;
  consume(state: string, nowMs: number): Promise<ConsumeResult>;
}

export function createOAuthStateStore(doc: DynamoDBDocumentClient, tableName: string, box: SecretBox): OAuthStateStore {
  return {
    async create({ state, userId, codeVerifier, nowMs, ttlMs = OAUTH_STATE_TTL_MS }) {
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: {
            state,
            userId,
            codeVerifierSealed: box.seal(codeVerifier, `oauth#${state}`),
            createdAt: nowMs,
            expiresAt: nowMs + ttlMs,
            expiresAtEpoch: Math.ceil((nowMs + ttlMs) / 1000),
          },
          ConditionExpression: 'attribute_not_exists(#s)',
          ExpressionAttributeNames: { '#s': 'state' },
        }),
      );
    },

    async consume(state, nowMs) {
      try {
        const out = await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { state },
            UpdateExpression: 'SET usedAt = :now REMOVE codeVerifierSealed',
            ConditionExpression: 'attribute_exists(#s) AND attribute_not_exists(usedAt) AND expiresAt > :now',
            ExpressionAttributeNames: { '#s': 'state' },
            ExpressionAttributeValues: { ':now': nowMs },
            ReturnValues: 'ALL_OLD',
          }),
        );
        const old = out.Attributes ?? {};
        return { kind: 'ok', userId: String(old.userId), codeVerifier: box.open(String(old.codeVerifierSealed), `oauth#${state}`) };
      } catch (e) {
        if (!isConditionFailure(e)) throw e;
      }
      // Tell the three refusals apart for the redirect's reason code (dynalite ignores
      // ReturnValuesOnConditionCheckFailure, so read).
      const item = (await doc.send(new GetCommand({ TableName: tableName, Key: { state }, ConsistentRead: true }))).Item;
      if (!item) return { kind: 'unknown' };
      if (item.usedAt !== undefined) return { kind: 'replayed' };
      return { kind: 'expired' };
    },
  };
}
