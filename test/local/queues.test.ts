/**
 * The local event source mapping over real fauxqs: batches as SQSEvents, ReportBatchItemFailures
 * (only failed messages come back, after the visibility timeout), whole-batch retry when the
 * worker throws, and the DLQ after maxReceiveCount. The worker is a test double injected into the
 * runtime; the queue, the SQS client and the redrive are real.
 */
import { ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createSqsQueue } from '../../functions/adapters/sqs-queue.js';
import { failedIds, newSqsClient } from '../../local/queues.js';
import { startTestRuntime, useLocalRuntime } from '../support/runtime.js';

type Plan = { id: string; failTimes?: number; throwOnFirst?: boolean; gate?: boolean };

interface Seen {
  receiveCount: number;
  batchSize: number;
  batchIds: string[];
  record: SQSRecord;
}

const seen = new Map<string, Seen[]>();
const gates = new Map<string, () => void>();
const gateOpen = new Map<string, Promise<void>>();

function makeGate(id: string): () => void {
  let open!: () => void;
  gateOpen.set(id, new Promise<void>((r) => (open = r)));
  gates.set(id, open);
  return open;
}

async function worker(event: SQSEvent): Promise<SQSBatchResponse> {
  const plans = event.Records.map((r) => ({ r, plan: JSON.parse(r.body) as Plan }));
  const batchIds = plans.map((p) => p.plan.id);
  for (const { r, plan } of plans) {
    const list = seen.get(plan.id) ?? [];
    list.push({ receiveCount: Number(r.attributes.ApproximateReceiveCount), batchSize: plans.length, batchIds, record: r });
    seen.set(plan.id, list);
  }
  for (const { plan } of plans) if (plan.gate) await gateOpen.get(plan.id);
  if (plans.some(({ r, plan }) => plan.throwOnFirst && r.attributes.ApproximateReceiveCount === '1')) {
    throw new Error('worker crashed (on purpose)');
  }
  return {
    batchItemFailures: plans
      .filter(({ r, plan }) => Number(r.attributes.ApproximateReceiveCount) <= (plan.failTimes ?? 0))
      .map(({ r }) => ({ itemIdentifier: r.messageId })),
  };
}

const MAX_RECEIVE = 3;

const rt = useLocalRuntime({
  env: { CALENDLY_CLIENT_ID: 'test', CALENDLY_CLIENT_SECRET: 'test', CALENDLY_WEBHOOK_SIGNING_KEY: 'test', CALENDLY_AUTH_URL: 'http://127.0.0.1:9', CALENDLY_API_URL: 'http://127.0.0.1:9' },
  handlers: { 'sync-worker': worker },
  // One poller, so that messages sent while the gate holds it arrive together as one batch.
  queues: { visibilityTimeoutSeconds: 1, maxReceiveCount: MAX_RECEIVE, concurrency: 1, batchSize: 10 },
});

function send(plans: Plan[]) {
  // The production adapter, pointed at fauxqs, exactly as the handlers use it.
  const queue = createSqsQueue({ urls: { sync: rt().queues.sync.url, health: rt().queues.health.url }, endpoint: rt().endpoints.sqs });
  return queue.send('sync', plans);
}

/** Holds the single poller inside the worker, so the next messages pile up into one batch. */
async function sendAsOneBatch(prefix: string, plans: Plan[]): Promise<void> {
  const release = makeGate(`${prefix}-gate`);
  await send([{ id: `${prefix}-gate`, gate: true }]);
  await waitFor(() => seen.has(`${prefix}-gate`));
  await send(plans);
  release();
}

async function waitFor(cond: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('local SQS event source mapping (fauxqs)', () => {
  it('hands the worker real SQS records and deletes the messages it finished', async () => {
    await send([{ id: 'shape-1' }]);
    await waitFor(() => seen.has('shape-1'));
    expect((await rt().drain({ includeRetries: true })).idle).toBe(true);
    const [first] = seen.get('shape-1')!;
    const r = first!.record;
    expect(r).toMatchObject({
      eventSource: 'aws:sqs',
      eventSourceARN: rt().queues.sync.arn,
      awsRegion: 'us-east-1',
      body: JSON.stringify({ id: 'shape-1' }),
      attributes: { ApproximateReceiveCount: '1' },
    });
    expect(r.messageId).toMatch(/\S/);
    expect(r.receiptHandle).toMatch(/\S/);
    expect(Number(r.attributes.SentTimestamp)).toBeGreaterThan(0);
    expect(seen.get('shape-1')).toHaveLength(1);
  });

  it('brings back only the failed messages of a batch, after the visibility timeout', async () => {
    await sendAsOneBatch('pf', [{ id: 'pf-a' }, { id: 'pf-b', failTimes: 1 }, { id: 'pf-c' }]);
    await waitFor(() => (seen.get('pf-b')?.length ?? 0) >= 2);
    expect((await rt().drain({ includeRetries: true })).idle).toBe(true);

    expect(seen.get('pf-a')!.map((s) => s.batchIds)).toEqual([['pf-a', 'pf-b', 'pf-c']]);
    expect(seen.get('pf-a')).toHaveLength(1);
    expect(seen.get('pf-c')).toHaveLength(1);
    const b = seen.get('pf-b')!;
    expect(b.map((s) => s.receiveCount)).toEqual([1, 2]);
    expect(b[1]!.batchIds).toEqual(['pf-b']);
    // Same message, new delivery.
    expect(b[1]!.record.messageId).toBe(b[0]!.record.messageId);
    expect(b[1]!.record.receiptHandle).not.toBe(b[0]!.record.receiptHandle);
  });

  it('retries the whole batch when the worker throws', async () => {
    await sendAsOneBatch('th', [{ id: 'th-a' }, { id: 'th-b', throwOnFirst: true }, { id: 'th-c' }]);
    await waitFor(() => ['th-a', 'th-b', 'th-c'].every((id) => (seen.get(id)?.length ?? 0) >= 2));
    expect((await rt().drain({ includeRetries: true })).idle).toBe(true);
    for (const id of ['th-a', 'th-b', 'th-c']) {
      const s = seen.get(id)!;
      expect(s[0]!.batchIds).toEqual(['th-a', 'th-b', 'th-c']);
      // Delivered again (and then done): nothing of the thrown batch was deleted.
      expect(s.map((x) => x.receiveCount)).toEqual([1, 2]);
    }
  });

  it(`moves a message that fails ${MAX_RECEIVE} times to the DLQ and stops delivering it`, async () => {
    await send([{ id: 'dlq-1', failTimes: 99 }]);
    await waitFor(() => (seen.get('dlq-1')?.length ?? 0) >= MAX_RECEIVE);
    expect((await rt().drain({ includeRetries: true })).idle).toBe(true);
    expect(seen.get('dlq-1')!.map((s) => s.receiveCount)).toEqual([1, 2, 3]);

    const sqs = newSqsClient(rt().endpoints.sqs);
    try {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: rt().queues.sync.dlqUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }),
      );
      const bodies = (out.Messages ?? []).map((m) => JSON.parse(m.Body!) as Plan);
      expect(bodies).toEqual([{ id: 'dlq-1', failTimes: 99 }]);
      expect(out.Messages![0]!.MessageId).toBe(seen.get('dlq-1')![0]!.record.messageId);
    } finally {
      sqs.destroy();
    }
    expect(rt().queueStats().sync.failed).toBeGreaterThanOrEqual(MAX_RECEIVE);
  });
});

describe('a worker past its Lambda timeout', () => {
  it('fails the whole batch (the messages come back) even though it never answers', async () => {
    const receives: number[] = [];
    const never = new Promise<never>(() => undefined);
    const runtime = await startTestRuntime({
      env: { CALENDLY_CLIENT_ID: 'test', CALENDLY_CLIENT_SECRET: 'test', CALENDLY_WEBHOOK_SIGNING_KEY: 'test', CALENDLY_AUTH_URL: 'http://127.0.0.1:9', CALENDLY_API_URL: 'http://127.0.0.1:9' },
      handlers: {
        'sync-worker': async (event: SQSEvent) => {
          const count = Number(event.Records[0]!.attributes.ApproximateReceiveCount);
          receives.push(count);
          if (count === 1) await never; // hangs: only the timeout ends this invocation
          return { batchItemFailures: [] };
        },
      },
      queues: { visibilityTimeoutSeconds: 1, functionTimeoutSeconds: 1 },
    });
    try {
      await createSqsQueue({ urls: { sync: runtime.queues.sync.url, health: runtime.queues.health.url }, endpoint: runtime.endpoints.sqs }).send('sync', [{ id: 'slow' }]);
      await waitFor(() => receives.length >= 2);
      expect((await runtime.drain({ includeRetries: true })).idle).toBe(true);
      expect(receives).toEqual([1, 2]);
    } finally {
      await runtime.stop();
    }
  }, 60_000);
});

describe('reading a ReportBatchItemFailures answer the way Lambda does', () => {
  const ids = new Set(['m1', 'm2', 'm3']);
  it('treats no answer or an empty list as all done', () => {
    expect(failedIds(undefined, ids).size).toBe(0);
    expect(failedIds({}, ids).size).toBe(0);
    expect(failedIds({ batchItemFailures: [] }, ids).size).toBe(0);
  });
  it('fails only the listed messages', () => {
    expect([...failedIds({ batchItemFailures: [{ itemIdentifier: 'm2' }] }, ids)]).toEqual(['m2']);
  });
  it('fails the whole batch for an empty or unknown identifier', () => {
    expect(failedIds({ batchItemFailures: [{ itemIdentifier: '' }] }, ids).size).toBe(3);
    expect(failedIds({ batchItemFailures: [{ itemIdentifier: 'other' }] }, ids).size).toBe(3);
    expect(failedIds({ batchItemFailures: 'nope' }, ids).size).toBe(3);
  });
});
