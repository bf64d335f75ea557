/**
 * Custom CloudWatch metrics through Powertools Metrics: Embedded Metric Format lines that Lambda
 * ships to CloudWatch Logs, which extracts the metric (no SDK call, no latency). Powertools writes
 * them to stdout itself, in the shape CloudWatch extracts whatever the function's log format
 * (text or JSON), and flushes each one at once (`singleMetric`), so nothing is lost when a
 * handler returns early or throws. Namespace, service and dimension names come from
 * metric-names.ts, the table the stack's alarms are built from.
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { currentLambda, type LambdaName } from './invocation.js';
import { CUSTOM_METRICS, FUNCTION_DIMENSION, METRICS_NAMESPACE, SERVICE_NAME, type ServiceMetricName } from './metric-names.js';

// The constructor's namespace and service win over the environment: an alarm watches these exact
// values, so a stray POWERTOOLS_METRICS_NAMESPACE must not move the metrics away from it.
const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });

/**
 * Metrics counted for operators but watched by no alarm or dashboard widget: which key Calendly
 * signed a delivery with (dimension `key`: hook | app) tells whether the per-hook key is in use.
 */
export type InformationalMetricName = 'WebhookSignatureKey';

/**
 * Counts `value` occurrences of a service-wide metric (dimension `service`, plus `dimensions` on
 * this line only: `singleMetric` keeps them from leaking onto other metrics).
 */
export function emitMetric(name: ServiceMetricName | InformationalMetricName, value = 1, dimensions: Record<string, string> = {}): void {
  if (!(value > 0)) return;
  const single = metrics.singleMetric();
  for (const [k, v] of Object.entries(dimensions)) single.addDimension(k, v);
  single.addMetric(name, MetricUnit.Count, value);
}

/**
 * Counts one handled failure (a 500 answered, a batch item reported failed) for the Lambda that
 * handled it. `singleMetric` keeps the `function` dimension on this line only.
 */
export function countHandledFailure(lambda: LambdaName | undefined = currentLambda()): void {
  const single = metrics.singleMetric();
  single.addDimension(FUNCTION_DIMENSION, lambda ?? 'unknown');
  single.addMetric(CUSTOM_METRICS.handledFailures.name, MetricUnit.Count, 1);
}

/**
 * Wraps a worker's record handler: a throw (the record reported as a batch item failure) is
 * counted as a handled failure, then rethrown for the batch processor. `expected` names the
 * throws that are a planned retry rather than a failure.
 */
export function countingFailures<A extends unknown[]>(
  handle: (...args: A) => Promise<void>,
  expected: (error: unknown) => boolean = () => false,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await handle(...args);
    } catch (error) {
      if (!expected(error)) countHandledFailure();
      throw error;
    }
  };
}
