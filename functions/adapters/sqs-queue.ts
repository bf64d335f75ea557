import { SQSClient, SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { Queue, QueueName } from '../ports.js';
import { logSdkCalls } from './sdk-call-log.js';

/** SQS adapter; the same code talks to AWS SQS and to fauxqs locally (endpoint set). */
export function createSqsQueue(opts: { urls: Record<QueueName, string>; endpoint?: string; region?: string; client?: SQSClient }): Queue {
  const client =
    opts.client ??
    new SQSClient({
      region: opts.region ?? process.env.AWS_REGION ?? 'us-east-1',
      ...(opts.endpoint ? { endpoint: opts.endpoint, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } } : {}),
    });
  logSdkCalls(client, 'sqs');
  return {
    async send(queue, messages, sendOpts) {
      const url = opts.urls[queue];
      for (let i = 0; i < messages.length; i += 10) {
        const chunk = messages.slice(i, i + 10);
        let entries = chunk.map((m, j) => ({
          Id: String(j),
          MessageBody: JSON.stringify(m),
          DelaySeconds: sendOpts?.delaySeconds,
        }));
        // SendMessageBatch can fail some entries; resend only those, a bounded number of times.
        for (let attempt = 0; entries.length > 0; attempt++) {
          const out = await client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: entries }));
          const failed = new Set((out.Failed ?? []).map((f) => f.Id));
          if (failed.size === 0) break;
          if (attempt >= 3) throw new Error(`could not enqueue ${failed.size} message(s) on the ${queue} queue`);
          entries = entries.filter((e) => failed.has(e.Id));
        }
      }
    },
  };
}
