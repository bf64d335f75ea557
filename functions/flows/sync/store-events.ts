/**
 * Stores one page's meeting updates so that one event the store refuses cannot fail its page
 * (and so its whole sync) on every try. The store writes each event on its own and reports the
 * ones it could not store; those refused for good (an item too large, a request DynamoDB rejects)
 * are skipped, with their cause. A failure that may pass (throttling, a DynamoDB or network fault)
 * is not an event's fault: it fails the page as before, and the retry resumes.
 */
import { ItemTooLargeError, type SyncedMark } from '../../store/meetings/index.js';
import type { SyncDeps, SyncMeetingUpdate } from './types.js';

export interface StoredPage {
  applied: number;
  unchanged: number;
  /** Events written on their own and refused again (each with the store's error). */
  skipped: Array<{ eventUri: string; error: unknown }>;
}

/**
 * True for an error no retry can cure: DynamoDB refused the request itself (a client fault it
 * does not mark retryable, such as ValidationException for an item over 400 KB).
 */
export function isPermanentStoreError(e: unknown): boolean {
  if (e instanceof ItemTooLargeError) return true;
  if (!e || typeof e !== 'object') return false;
  const err = e as { $fault?: string; $retryable?: unknown; name?: string };
  if (err.$retryable) return false;
  if (err.name === 'ThrottlingException' || err.name === 'ProvisionedThroughputExceededException' || err.name === 'RequestLimitExceeded') return false;
  return err.$fault === 'client';
}

export async function storePageUpdates(
  deps: Pick<SyncDeps, 'applyMeetings' | 'publishChanges'>,
  userId: string,
  updates: SyncMeetingUpdate[],
  opts: { synced?: ReadonlyMap<string, SyncedMark> } = {},
): Promise<StoredPage> {
  if (updates.length === 0) return { applied: 0, unchanged: 0, skipped: [] };
  const out = await deps.applyMeetings(userId, updates, opts);
  // The page's changes are on record with their writes; publishing them is never what fails a page.
  if (deps.publishChanges && out.written && out.written.length > 0) await deps.publishChanges(out.written);
  const skipped: StoredPage['skipped'] = [];
  for (const f of out.failed ?? []) {
    if (!isPermanentStoreError(f.error)) {
      throw new Error(`an event of this page could not be stored (${f.eventUri}: ${f.cause})`, { cause: f.error });
    }
    skipped.push({ eventUri: f.eventUri, error: f.error });
  }
  return { applied: out.applied, unchanged: out.unchanged, skipped };
}
