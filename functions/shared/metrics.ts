/**
 * Custom CloudWatch metrics as Embedded Metric Format lines on stdout: Lambda ships them to
 * CloudWatch Logs, which extracts the metric, so no SDK call or extra latency. Namespace and the
 * single `service` dimension match what the stack's alarms watch (lib/stack.ts).
 */
export type CustomMetric = 'ParkedWebhooks' | 'ConnectionsAuthorizationRequired' | 'SyncRunsGivenUp' | 'WebhookSignatureKey';

/** `dimensions` adds to `service` (e.g. WebhookSignatureKey's `key`: hook | app). */
export function emitMetric(
  name: CustomMetric,
  value: number,
  write: (line: string) => void = (l) => console.log(l),
  dimensions: Record<string, string> = {},
): void {
  const namespace = process.env.POWERTOOLS_METRICS_NAMESPACE || 'CalendlyConnector';
  const service = process.env.POWERTOOLS_SERVICE_NAME || 'calendly-connector';
  write(
    JSON.stringify({
      _aws: {
        Timestamp: Date.now(),
        CloudWatchMetrics: [{ Namespace: namespace, Dimensions: [['service', ...Object.keys(dimensions)]], Metrics: [{ Name: name, Unit: 'Count' }] }],
      },
      ...dimensions,
      service,
      [name]: value,
    }),
  );
}
