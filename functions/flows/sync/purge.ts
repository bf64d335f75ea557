/**
 * The purge after a disconnect: deletes the user's meetings through the sync queue, one bounded
 * batch per message, re-queuing itself with its cursor until the partition is empty.
 *
 * - Only while the user is disconnected (or has no connection): the status is read before every
 *   delete request, so a user who connected again keeps what the initial sync brings back.
 * - Resumable and safe to run twice: deleting a missing item is a no-op, a lost or duplicated
 *   message only repeats or skips reading keys that are gone.
 * - When a pass reaches the end, one more pass from the start (without cursor) confirms the
 *   partition is empty, so an item written behind the cursor meanwhile (a sync page that was in
 *   flight when the user disconnected) is deleted too.
 */
import { logger } from '../../shared/logger.js';
import type { PurgeMessage } from '../../domain/messages.js';
import type { SyncDeps } from './types.js';

export type PurgeOutcome = 'continued' | 'done' | 'stopped_connected';

export interface PurgeResult {
  outcome: PurgeOutcome;
  deleted: number;
}

/** Items read and deleted per message (four delete requests of 25). */
export const PURGE_BATCH = 100;

const encodeCursor = (key: Record<string, unknown>) => Buffer.from(JSON.stringify(key)).toString('base64url');

/** The cursor's key, when it is one of this user's keys; anything else restarts from the start (harmless). */
function decodeCursor(userId: string, cursor: string | undefined): Record<string, unknown> | undefined {
  if (!cursor) return undefined;
  try {
    const key = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (!key || typeof key !== 'object' || Array.isArray(key)) return undefined;
    const entries = Object.entries(key as Record<string, unknown>);
    if (entries.length === 0 || entries.length > 3 || !entries.every(([, v]) => typeof v === 'string')) return undefined;
    return Object.values(key as Record<string, unknown>).includes(userId) ? (key as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export async function processPurgeMessage(deps: Pick<SyncDeps, 'getConnection' | 'purgeMeetings' | 'queue'>, msg: PurgeMessage): Promise<PurgeResult> {
  const { userId } = msg;
  const disconnected = async () => {
    const conn = await deps.getConnection(userId);
    return !conn || conn.status === 'disconnected';
  };
  const cursor = decodeCursor(userId, msg.cursor);
  const batch = await deps.purgeMeetings(userId, { ...(cursor ? { cursor } : {}), limit: PURGE_BATCH, beforeBatch: disconnected });
  if (batch.stopped) {
    logger.info('meetings purge stopped: the user is connected again', { userId, deleted: batch.deleted });
    return { outcome: 'stopped_connected', deleted: batch.deleted };
  }
  if (batch.cursor) {
    await deps.queue.send('sync', [{ kind: 'purge', userId, cursor: encodeCursor(batch.cursor) } satisfies PurgeMessage]);
    return { outcome: 'continued', deleted: batch.deleted };
  }
  if (cursor || batch.deleted > 0) {
    // End of a pass that deleted something: confirm with a pass from the start.
    await deps.queue.send('sync', [{ kind: 'purge', userId } satisfies PurgeMessage]);
    return { outcome: 'continued', deleted: batch.deleted };
  }
  logger.info('meetings purge done', { userId });
  return { outcome: 'done', deleted: 0 };
}
