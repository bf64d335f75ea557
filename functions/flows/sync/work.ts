/** The work a sync message adds: its window, merged with what is already queued. */
import type { SyncRun, SyncStateRecord, SyncWindow, SyncWork } from '../../store/sync-state.js';
import type { SyncMessage } from '../../domain/messages.js';
import { DAY_MS, DEFAULT_SYNC_OPTIONS, type SyncOptions } from './types.js';

export function resolveWindow(msg: Pick<SyncMessage, 'minStartTime' | 'maxStartTime'>, nowMs: number, opts: SyncOptions = DEFAULT_SYNC_OPTIONS): SyncWindow {
  const min = msg.minStartTime ? Date.parse(msg.minStartTime) : nowMs - opts.defaultLookbackMs;
  const max = msg.maxStartTime ? Date.parse(msg.maxStartTime) : Math.max(nowMs + opts.defaultLookaheadMs, min + DAY_MS);
  return { minStartTime: new Date(min).toISOString(), maxStartTime: new Date(max).toISOString() };
}

export const MAX_IDS = 20;
export const uniq = <T>(xs: T[]) => [...new Set(xs)];

/** Union of two windows as their enclosing window (a sync over more is harmless). */
export function mergeWork(a: SyncWork | undefined, b: SyncWork): SyncWork {
  if (!a) return b;
  return {
    minStartTime: Date.parse(a.minStartTime) <= Date.parse(b.minStartTime) ? a.minStartTime : b.minStartTime,
    maxStartTime: Date.parse(a.maxStartTime) >= Date.parse(b.maxStartTime) ? a.maxStartTime : b.maxStartTime,
    reasons: uniq([...a.reasons, ...b.reasons]),
    messageIds: uniq([...a.messageIds, ...b.messageIds]).slice(-MAX_IDS),
  };
}

export const newRun = (work: SyncWork, nowMs: number): SyncRun => ({ ...work, pageToken: null, pages: 0, events: 0, startedAt: nowMs });

export function releaseLease(s: SyncStateRecord): SyncStateRecord {
  delete s.leaseOwner;
  delete s.leaseExpiresAt;
  delete s.driver;
  return s;
}
