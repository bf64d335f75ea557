/** The Calendly account a user switched away from, parked on the connection until it is cleaned up. */
import type { TokenSet } from '../../domain/tokens.js';
import { conditional } from '../dynamo.js';
import { num, str, type ConnectionTable, type PreviousAccount } from './item.js';

export interface PreviousAccountRecord {
  /** The parked account with its tokens opened; undefined when none is parked. */
  getPreviousAccount(userId: string): Promise<PreviousAccount | undefined>;
  /** Stores a rotated pair of the parked account (conditional on that account still being parked). */
  savePreviousTokens(userId: string, input: { calendlyUserUri: string; tokens: TokenSet }): Promise<boolean>;
  /** Forgets the parked account once it is cleaned up (conditional on it still being the one parked). */
  clearPreviousAccount(userId: string, calendlyUserUri: string): Promise<boolean>;
}

export function previousAccountRecord(t: ConnectionTable): PreviousAccountRecord {
  const { update, read, box } = t;
  return {
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
  };
}
