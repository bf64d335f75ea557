import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import type { MeetingChangedEvent } from '../domain/meeting-events.js';
import { realSleeper, type MeetingEventPublisher, type Sleeper } from '../ports.js';
import { logSdkCalls } from './sdk-call-log.js';

/** PutEvents takes at most 10 entries per request. */
export const PUT_EVENTS_BATCH = 10;

export interface EventBridgePublisherOptions {
  /** EVENT_BUS_NAME: the bus the stack creates. */
  busName: string;
  /** Set for a local PutEvents endpoint; unset in AWS. */
  endpoint?: string;
  region?: string;
  client?: EventBridgeClient;
  /** Requests per batch before its remaining entries count as failed (first try included). Default 4. */
  maxAttempts?: number;
  /** Backoff before retry n (1-based) is baseDelayMs * 2^(n-1), with full jitter. Default 100. */
  baseDelayMs?: number;
  sleeper?: Sleeper;
  random?: () => number;
}

/**
 * `Meeting Changed` events onto an EventBridge bus. PutEvents can accept some entries of a
 * request and refuse others (FailedEntryCount, an ErrorCode per entry, e.g. throttling or an
 * internal failure): only those are sent again, with backoff, a bounded number of times. What is
 * still refused then, or a batch whose requests all threw, is answered as `failed` rather than
 * thrown, so the caller can keep exactly those pending for the sweep.
 */
export function createEventBridgePublisher(opts: EventBridgePublisherOptions): MeetingEventPublisher {
  const client =
    opts.client ??
    new EventBridgeClient({
      region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(opts.endpoint ? { endpoint: opts.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    });
  if (!opts.client) logSdkCalls(client, 'events');
  const maxAttempts = Math.max(1, opts.maxAttempts ?? 4);
  const baseDelayMs = opts.baseDelayMs ?? 100;
  const sleeper = opts.sleeper ?? realSleeper;
  const random = opts.random ?? Math.random;

  const toEntry = (e: MeetingChangedEvent): PutEventsRequestEntry => ({
    EventBusName: opts.busName,
    Source: e.source,
    DetailType: e.detailType,
    Detail: JSON.stringify(e.detail),
  });

  async function publishBatch(batch: readonly MeetingChangedEvent[]): Promise<MeetingChangedEvent[]> {
    let pending = [...batch];
    for (let attempt = 1; pending.length > 0; attempt++) {
      try {
        const out = await client.send(new PutEventsCommand({ Entries: pending.map(toEntry) }));
        if (!out.FailedEntryCount) return [];
        // Result entries are in request order; a failed one carries an ErrorCode instead of an EventId.
        pending = pending.filter((_, i) => {
          const r = out.Entries?.[i];
          return !r || Boolean(r.ErrorCode) || !r.EventId;
        });
      } catch {
        // The request itself failed (after the SDK's own retries): the whole batch is still pending.
      }
      if (pending.length === 0 || attempt >= maxAttempts) break;
      await sleeper.sleep(Math.floor(random() * baseDelayMs * 2 ** (attempt - 1)));
    }
    return pending;
  }

  return {
    async publish(events) {
      const failed: MeetingChangedEvent[] = [];
      for (let i = 0; i < events.length; i += PUT_EVENTS_BATCH) {
        failed.push(...(await publishBatch(events.slice(i, i + PUT_EVENTS_BATCH))));
      }
      return { failed };
    },
  };
}
