/**
 * Stores one page's meeting updates so that one event the store refuses cannot fail its page
 * (and so its whole sync) on every try: the page is written in one call as usual; when that call
 * is refused, each event is written alone and the ones refused again are skipped, with their
 * cause. A failure that may pass (throttling, a DynamoDB or network fault, a bulk-write fence
 * held elsewhere) is not an event's fault: it fails the page as before, and the retry resumes.
 */
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
  if (!e || typeof e !== 'object') return false;
  const err = e as { $fault?: string; $retryable?: unknown; name?: string };
  if (err.$retryable) return false;
  if (err.name === 'ThrottlingException' || err.name === 'ProvisionedThroughputExceededException' || err.name === 'RequestLimitExceeded') return false;
  return err.$fault === 'client';
}

export async function storePageUpdates(deps: Pick<SyncDeps, 'applyMeetings'>, userId: string, updates: SyncMeetingUpdate[]): Promise<StoredPage> {
  if (updates.length === 0) return { applied: 0, unchanged: 0, skipped: [] };
  try {
    const out = await deps.applyMeetings(userId, updates);
    return { applied: out.applied, unchanged: out.unchanged, skipped: [] };
  } catch (e) {
    if (!isPermanentStoreError(e)) throw e;
    const byEvent = new Map<string, SyncMeetingUpdate[]>();
    for (const u of updates) byEvent.set(u.eventUri, [...(byEvent.get(u.eventUri) ?? []), u]);
    const page: StoredPage = { applied: 0, unchanged: 0, skipped: [] };
    // One after another: the store takes a per-user bulk fence for each call.
    for (const [eventUri, mine] of byEvent) {
      try {
        const out = await deps.applyMeetings(userId, mine);
        page.applied += out.applied;
        page.unchanged += out.unchanged;
      } catch (one) {
        if (!isPermanentStoreError(one)) throw one;
        page.skipped.push({ eventUri, error: one });
      }
    }
    return page;
  }
}
