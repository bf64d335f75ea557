import { GetCommand, PutCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { SecretBox } from '../shared/crypto.js';
import { isConditionFailure } from './dynamo.js';

/**
 * One item per hook key we mint. The hook key is the opaque last segment of a webhook callback
 * URL; the item says which user it belongs to and holds the signing key we sent with that
 * subscription (sealed). It is written *before* the create call at Calendly, so a delivery to a
 * hook whose create answer was lost still finds its key.
 *
 * Layout: { hookKey (pk), userId, signingKeySealed, state: 'pending'|'active'|'retired',
 *           createdAt (ISO), updatedAt (ISO) }
 */
export type HookKeyState = 'pending' | 'active' | 'retired';

export interface HookKeyRecord {
  hookKey: string;
  userId: string;
  signingKey: string;
  state: HookKeyState;
  createdAt: string;
}

export interface WebhookKeyStore {
  /** Creates a fresh key record; fails if the key already exists (it never should). */
  create(rec: { hookKey: string; userId: string; signingKey: string; now: number }): Promise<void>;
  get(hookKey: string): Promise<HookKeyRecord | undefined>;
  /** The consistent read of a key's `state` (and owner) as data, to ride in another store's batch read. */
  stateRead(hookKey: string): { tableName: string; key: Record<string, unknown>; attributes: string[] };
  setState(hookKey: string, state: HookKeyState, now: number): Promise<void>;
  /**
   * Moves the user's key to `state` (active or retired). Conditional on the key belonging to
   * `userId` (a hook key read off a callback URL can never touch another user's key) and on it
   * not being retired already (a retired key never comes back). False when nothing changed.
   */
  setStateForUser(hookKey: string, userId: string, state: 'active' | 'retired', now: number): Promise<boolean>;
}

export function createWebhookKeyStore(doc: DynamoDBDocumentClient, tableName: string, box: SecretBox): WebhookKeyStore {
  return {
    async create({ hookKey, userId, signingKey, now }) {
      const at = new Date(now).toISOString();
      await doc.send(
        new PutCommand({
          TableName: tableName,
          Item: { hookKey, userId, signingKeySealed: box.seal(signingKey, userId), state: 'pending', createdAt: at, updatedAt: at },
          ConditionExpression: 'attribute_not_exists(hookKey)',
        }),
      );
    },
    async get(hookKey) {
      const out = await doc.send(new GetCommand({ TableName: tableName, Key: { hookKey }, ConsistentRead: true }));
      const item = out.Item;
      if (!item) return undefined;
      return {
        hookKey,
        userId: String(item.userId),
        signingKey: box.open(String(item.signingKeySealed), String(item.userId)),
        state: item.state as HookKeyState,
        createdAt: String(item.createdAt),
      };
    },
    stateRead: (hookKey) => ({ tableName, key: { hookKey }, attributes: ['state', 'userId'] }),
    async setState(hookKey, state, now) {
      await doc.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { hookKey },
          UpdateExpression: 'SET #s = :s, updatedAt = :u',
          ConditionExpression: 'attribute_exists(hookKey)',
          ExpressionAttributeNames: { '#s': 'state' },
          ExpressionAttributeValues: { ':s': state, ':u': new Date(now).toISOString() },
        }),
      );
    },
    async setStateForUser(hookKey, userId, state, now) {
      try {
        await doc.send(
          new UpdateCommand({
            TableName: tableName,
            Key: { hookKey },
            UpdateExpression: 'SET #s = :s, updatedAt = :u',
            ConditionExpression: 'userId = :user AND #s <> :retired',
            ExpressionAttributeNames: { '#s': 'state' },
            ExpressionAttributeValues: { ':s': state, ':u': new Date(now).toISOString(), ':user': userId, ':retired': 'retired' },
          }),
        );
        return true;
      } catch (e) {
        if (isConditionFailure(e)) return false;
        throw e;
      }
    },
  };
}
