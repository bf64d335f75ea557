/**
 * Local SQS: fauxqs in this process, driven through @aws-sdk/client-sqs exactly as in AWS, and
 * a poller per queue that plays the Lambda SQS event source mapping with
 * ReportBatchItemFailures: long-poll up to `batchSize` messages, hand them to the worker as a
 * real SQSEvent, delete the ones that succeeded, leave the failed ones to come back after the
 * visibility timeout, and let the queue's RedrivePolicy move a message to the DLQ after
 * maxReceiveCount receives. A thrown handler fails the whole batch, as in Lambda.
 */
import {
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { startFauxqs, type FauxqsServer } from 'fauxqs';
import type { QueueName } from '../functions/ports.js';
import { logger } from '../functions/shared/logger.js';
import { functionTimeoutMs, lambdaContext, LOCAL_REGION, withFunctionTimeout } from './lambda-context.js';

export const QUEUE_NAMES: readonly QueueName[] = ['sync', 'health'];

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void | null | undefined> | SQSBatchResponse | void;

export interface QueueOptions {
  /**
   * Queue attribute; failed messages come back after this. Default: the worker's Lambda
   * timeout (sync 120 s, health 90 s), the least that never redelivers a message while its
   * batch may still be running. (AWS uses 6x; locally, retries should not take 12 minutes.)
   */
  visibilityTimeoutSeconds?: number | Partial<Record<QueueName, number>>;
  /** The worker's Lambda timeout: a batch still running after it fails as a whole. */
  functionTimeoutSeconds?: number | Partial<Record<QueueName, number>>;
  /** RedrivePolicy maxReceiveCount. Default 5. */
  maxReceiveCount?: number;
  /**
   * Event source mapping batch size (1..10), one number for both queues or per queue. Default
   * as the CDK stack sets it: sync 1, health 5.
   */
  batchSize?: number | Partial<Record<QueueName, number>>;
  /** Batches in flight at once per queue (Lambda scales pollers; locally a few). Default 2. */
  concurrency?: number;
  /** Long-poll wait per receive; short so that shutdown and redelivery stay prompt. Default 1. */
  waitTimeSeconds?: number;
}

/** The CDK stack's event source mapping batch sizes (lib/stack.ts consumerSettings). */
export const DEFAULT_BATCH_SIZE: Record<QueueName, number> = { sync: 1, health: 5 };

type PerQueue = Record<QueueName, number>;
type ResolvedQueueOptions = Omit<Required<QueueOptions>, 'batchSize' | 'visibilityTimeoutSeconds' | 'functionTimeoutSeconds'> & {
  batchSize: PerQueue;
  visibilityTimeoutSeconds: PerQueue;
  functionTimeoutSeconds: PerQueue;
};

const WORKER: Record<QueueName, string> = { sync: 'sync-worker', health: 'health-worker' };

function perQueue(v: number | Partial<PerQueue> | undefined, fallback: PerQueue): PerQueue {
  if (typeof v === 'number') return { sync: v, health: v };
  return { sync: v?.sync ?? fallback.sync, health: v?.health ?? fallback.health };
}

export interface QueueInfo {
  name: string;
  url: string;
  arn: string;
  dlqName: string;
  dlqUrl: string;
  dlqArn: string;
}

export interface QueueStats {
  batches: number;
  /** Messages deleted after the handler reported them done. */
  succeeded: number;
  /** Message deliveries the handler failed (each retry counts again). */
  failed: number;
}

export interface DrainOptions {
  queues?: readonly QueueName[];
  /** Also wait for failed messages to be retried until they succeed or reach the DLQ. */
  includeRetries?: boolean;
  /** Default 60 s. */
  timeoutMs?: number;
}

export interface DrainResult {
  idle: boolean;
  /** Messages that failed and wait for their visibility timeout, or are delayed. */
  pendingRetries: number;
}

export interface BacklogMessage {
  body: string;
  delaySeconds?: number;
}

/** Saved messages by queue name (`sync`, `sync-dlq`, ...). */
export type Backlog = Record<string, BacklogMessage[]>;

type Resolve = (queue: QueueName) => Promise<SqsHandler>;

export class LocalQueues {
  readonly sqs: SQSClient;
  private readonly pollers: Promise<void>[] = [];
  private readonly abort = new AbortController();
  private stopped = false;
  private closed = false;
  private readonly localInFlight: Record<QueueName, number> = { sync: 0, health: 0 };
  /** Receipt handles of deliveries a handler failed: they wait out their visibility timeout. */
  private readonly failedReceipts = new Map<string, number>();
  private readonly counters: Record<QueueName, QueueStats> = {
    sync: { batches: 0, succeeded: 0, failed: 0 },
    health: { batches: 0, succeeded: 0, failed: 0 },
  };

  private constructor(
    private readonly server: FauxqsServer,
    readonly endpoint: string,
    readonly queues: Record<QueueName, QueueInfo>,
    private readonly opts: ResolvedQueueOptions,
    sqs: SQSClient,
  ) {
    this.sqs = sqs;
  }

  /** The redrive policy's maxReceiveCount (the sync worker's last try is that receive). */
  get maxReceiveCount(): number {
    return this.opts.maxReceiveCount;
  }

  static async start(options: QueueOptions = {}): Promise<LocalQueues> {
    const timeouts = { sync: functionTimeoutMs(WORKER.sync) / 1000, health: functionTimeoutMs(WORKER.health) / 1000 };
    const opts: ResolvedQueueOptions = {
      visibilityTimeoutSeconds: perQueue(options.visibilityTimeoutSeconds, timeouts),
      functionTimeoutSeconds: perQueue(options.functionTimeoutSeconds, timeouts),
      maxReceiveCount: options.maxReceiveCount ?? 5,
      batchSize: perQueue(options.batchSize, DEFAULT_BATCH_SIZE),
      concurrency: options.concurrency ?? 2,
      waitTimeSeconds: options.waitTimeSeconds ?? 1,
    };
    const server = await startFauxqs({ port: 0, logger: false, host: 'localhost', defaultRegion: LOCAL_REGION });
    const endpoint = `http://127.0.0.1:${server.port}`;
    const sqs = newSqsClient(endpoint);
    const queues = {} as Record<QueueName, QueueInfo>;
    try {
      for (const name of QUEUE_NAMES) {
        const dlqName = `${name}-dlq`;
        const dlq = await sqs.send(new CreateQueueCommand({ QueueName: dlqName, Attributes: { MessageRetentionPeriod: '1209600' } }));
        const dlqArn = await queueArn(sqs, dlq.QueueUrl!);
        const main = await sqs.send(
          new CreateQueueCommand({
            QueueName: name,
            Attributes: {
              VisibilityTimeout: String(opts.visibilityTimeoutSeconds[name]),
              RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: opts.maxReceiveCount }),
            },
          }),
        );
        queues[name] = { name, url: main.QueueUrl!, arn: await queueArn(sqs, main.QueueUrl!), dlqName, dlqUrl: dlq.QueueUrl!, dlqArn };
      }
    } catch (err) {
      sqs.destroy();
      await server.stop();
      throw err;
    }
    return new LocalQueues(server, endpoint, queues, opts, sqs);
  }

  /** Starts the event source mappings; `resolve` gives the worker handler for a queue. */
  startPollers(resolve: Resolve): void {
    for (const queue of QUEUE_NAMES) {
      for (let i = 0; i < this.opts.concurrency; i++) this.pollers.push(this.poll(queue, resolve));
    }
  }

  stats(): Record<QueueName, QueueStats> {
    return { sync: { ...this.counters.sync }, health: { ...this.counters.health } };
  }

  /** Server-side view of a queue plus our own in-flight count. */
  private snapshot(queue: QueueName): { busy: boolean; pendingRetries: number } {
    const view = this.server.inspectQueue(queue);
    if (!view) return { busy: false, pendingRetries: 0 };
    const now = Date.now();
    let inFlightElsewhere = 0;
    let waitingRetry = 0;
    for (const entry of view.messages.inflight) {
      if (this.failedReceipts.has(entry.receiptHandle) || entry.visibilityDeadline <= now) waitingRetry++;
      else inFlightElsewhere++;
    }
    return {
      // A message received but not yet handed to us counts as busy: no gap in which a batch
      // is invisible to both the queue and the poller.
      busy: view.messages.ready.length > 0 || inFlightElsewhere > 0 || this.localInFlight[queue] > 0,
      pendingRetries: waitingRetry + view.messages.delayed.length,
    };
  }

  /**
   * Waits until the queues have nothing ready and nothing being processed (and, with
   * `includeRetries`, nothing waiting for a retry either). Checked twice in a row so a message
   * sent by the last handler of one queue onto another is seen.
   */
  async drain(options: DrainOptions = {}): Promise<DrainResult> {
    const queues = options.queues ?? QUEUE_NAMES;
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    let quietChecks = 0;
    let pending = 0;
    while (Date.now() < deadline) {
      let busy = false;
      pending = 0;
      for (const q of queues) {
        const s = this.snapshot(q);
        busy ||= s.busy || (options.includeRetries === true && s.pendingRetries > 0);
        pending += s.pendingRetries;
      }
      quietChecks = busy ? 0 : quietChecks + 1;
      if (quietChecks >= 2) return { idle: true, pendingRetries: pending };
      await sleep(busy ? 25 : 10);
    }
    return { idle: false, pendingRetries: pending };
  }

  /** Stops the pollers, letting the batches in flight finish. */
  async stopPollers(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    await Promise.allSettled(this.pollers);
  }

  /** Stops the pollers (letting in-flight batches finish) and fauxqs. */
  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopPollers();
    this.sqs.destroy();
    await this.server.stop();
  }

  /**
   * Every message still held by the queues and their DLQs (ready, delayed, or received and not
   * deleted), so that a restart can put them back: fauxqs itself keeps nothing on disk.
   */
  backlog(): Backlog {
    const now = Date.now();
    const out: Backlog = {};
    for (const info of Object.values(this.queues)) {
      for (const name of [info.name, info.dlqName]) {
        const view = this.server.inspectQueue(name);
        if (!view) continue;
        const all = [...view.messages.ready, ...view.messages.delayed, ...view.messages.inflight.map((e) => e.message)];
        if (all.length === 0) continue;
        out[name] = all.map((m) => ({
          body: m.body,
          ...(m.delayUntil && m.delayUntil > now ? { delaySeconds: Math.min(900, Math.ceil((m.delayUntil - now) / 1000)) } : {}),
        }));
      }
    }
    return out;
  }

  /** Sends a saved backlog back onto the queues it came from; returns how many messages. */
  async restore(backlog: Backlog): Promise<number> {
    const urls = new Map<string, string>();
    for (const info of Object.values(this.queues)) {
      urls.set(info.name, info.url);
      urls.set(info.dlqName, info.dlqUrl);
    }
    let n = 0;
    for (const [name, messages] of Object.entries(backlog)) {
      const url = urls.get(name);
      if (!url) continue;
      for (let i = 0; i < messages.length; i += 10) {
        const chunk = messages.slice(i, i + 10);
        const out = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: url,
            Entries: chunk.map((m, j) => ({ Id: String(j), MessageBody: m.body, ...(m.delaySeconds ? { DelaySeconds: m.delaySeconds } : {}) })),
          }),
        );
        if (out.Failed?.length) throw new Error(`could not restore ${out.Failed.length} message(s) onto ${name}`);
        n += chunk.length;
      }
    }
    return n;
  }

  private async poll(queue: QueueName, resolve: Resolve): Promise<void> {
    const info = this.queues[queue];
    while (!this.stopped) {
      let messages: Message[];
      try {
        const out = await this.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: info.url,
            MaxNumberOfMessages: this.opts.batchSize[queue],
            WaitTimeSeconds: this.opts.waitTimeSeconds,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        messages = out.Messages ?? [];
      } catch (err) {
        if (this.stopped) return;
        logger.warn('local sqs receive failed; retrying', { queue, error: errorSummary(err) });
        await sleep(500);
        continue;
      }
      if (messages.length === 0) continue;
      this.localInFlight[queue]++;
      try {
        await this.runBatch(queue, info, messages, resolve);
      } finally {
        this.localInFlight[queue]--;
      }
    }
  }

  private async runBatch(queue: QueueName, info: QueueInfo, messages: Message[], resolve: Resolve): Promise<void> {
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, info.arn)) };
    const ids = new Set(event.Records.map((r) => r.messageId));
    this.counters[queue].batches++;
    let failed: Set<string>;
    const timeoutMs = this.opts.functionTimeoutSeconds[queue] * 1000;
    try {
      const handler = await resolve(queue);
      // Past its timeout the batch fails, as in Lambda (locally the function runs on unheard).
      const result = await withFunctionTimeout(WORKER[queue], () => handler(event, lambdaContext(WORKER[queue], timeoutMs)), timeoutMs);
      failed = failedIds(result, ids);
    } catch (err) {
      // Lambda: a function error fails the whole batch; every message comes back.
      logger.error('queue worker threw; the whole batch will be retried', { queue, messages: messages.length, error: errorSummary(err) });
      failed = ids;
    }
    const done = messages.filter((m) => !failed.has(m.MessageId!));
    if (done.length > 0) {
      try {
        const out = await this.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: info.url,
            Entries: done.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
        if (out.Failed?.length) logger.warn('local sqs could not delete some processed messages', { queue, failed: out.Failed.length });
      } catch (err) {
        logger.warn('local sqs delete failed; processed messages will be delivered again', { queue, error: errorSummary(err) });
      }
    }
    const now = Date.now();
    for (const [handle, until] of this.failedReceipts) if (until < now - 60_000) this.failedReceipts.delete(handle);
    for (const m of messages) {
      if (failed.has(m.MessageId!)) this.failedReceipts.set(m.ReceiptHandle!, now + this.opts.visibilityTimeoutSeconds[queue] * 1000);
    }
    this.counters[queue].succeeded += done.length;
    this.counters[queue].failed += messages.length - done.length;
  }
}

export function newSqsClient(endpoint: string): SQSClient {
  return new SQSClient({ region: LOCAL_REGION, endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}

async function queueArn(sqs: SQSClient, url: string): Promise<string> {
  const out = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['QueueArn'] }));
  const arn = out.Attributes?.QueueArn;
  if (!arn) throw new Error(`local sqs returned no ARN for ${url}`);
  return arn;
}

/**
 * Lambda's reading of a ReportBatchItemFailures response: nothing / no list = all succeeded;
 * an entry with an empty or unknown itemIdentifier fails the whole batch.
 */
export function failedIds(result: unknown, ids: Set<string>): Set<string> {
  if (result === null || result === undefined || typeof result !== 'object') return new Set();
  const list = (result as { batchItemFailures?: unknown }).batchItemFailures;
  if (list === undefined || list === null) return new Set();
  if (!Array.isArray(list)) return new Set(ids);
  const out = new Set<string>();
  for (const item of list) {
    const id = (item as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== 'string' || !ids.has(id)) return new Set(ids);
    out.add(id);
  }
  return out;
}

function toRecord(m: Message, arn: string): SQSRecord {
  const a = m.Attributes ?? {};
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [k, v] of Object.entries(m.MessageAttributes ?? {})) {
    messageAttributes[k] = {
      dataType: v.DataType ?? 'String',
      ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}),
      ...(v.BinaryValue !== undefined ? { binaryValue: Buffer.from(v.BinaryValue).toString('base64') } : {}),
      stringListValues: v.StringListValues ?? [],
      binaryListValues: (v.BinaryListValues ?? []).map((b) => Buffer.from(b).toString('base64')),
    };
  }
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes,
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: arn,
    awsRegion: LOCAL_REGION,
  };
}

function errorSummary(err: unknown): { name: string; message: string } | string {
  return err instanceof Error ? { name: err.name, message: err.message } : String(err);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
