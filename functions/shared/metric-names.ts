/**
 * The custom CloudWatch metrics the handlers emit (EMF, through Powertools Metrics: metrics.ts)
 * and the stack's alarms and dashboard watch (lib/ imports this table, as it imports the table
 * definitions). Plain data, no CDK import: the names, namespace and dimension sets here are the
 * contract between the two sides, and an alarm on a dimension set nobody emits watches nothing.
 */
import type { BackgroundHandlerName, HandlerName } from '../routes.js';

type LambdaName = HandlerName | BackgroundHandlerName;

/** `POWERTOOLS_METRICS_NAMESPACE` of every function. */
export const METRICS_NAMESPACE = 'CalendlyConnector';
/** `POWERTOOLS_SERVICE_NAME` of every function: Powertools adds it as the `service` dimension of every metric. */
export const SERVICE_NAME = 'calendly-connector';
/** The second dimension of per-function metrics; its value is the handler's name (functions/handlers/<name>.ts). */
export const FUNCTION_DIMENSION = 'function';

export interface CustomMetricDef {
  name: string;
  /** Dimension names, in the order of the EMF `Dimensions` set. */
  dimensions: readonly ['service'] | readonly ['service', typeof FUNCTION_DIMENSION];
  /** Which Lambdas emit it, and when (value 1 per occurrence unless said otherwise; unit Count). */
  emittedBy: readonly LambdaName[];
  when: string;
}

export const CUSTOM_METRICS = {
  handledFailures: {
    name: 'HandledFailures',
    dimensions: ['service', FUNCTION_DIMENSION],
    emittedBy: ['connections', 'meetings', 'oauth-callback', 'webhook', 'ping', 'sync-worker', 'health-scheduler', 'health-worker'],
    when:
      'an HTTP handler answers 500 for an unexpected error (an AppError 4xx is not a failure; the OAuth callback\'s ' +
      '"temporarily_unavailable" redirect is one), or a worker reports a record as a batch item failure',
  },
  parkedWebhooks: {
    name: 'ParkedWebhooks',
    dimensions: ['service'],
    emittedBy: ['webhook'],
    when: 'a signed webhook body we could not parse is parked for replay',
  },
  connectionsAuthorizationRequired: {
    name: 'ConnectionsAuthorizationRequired',
    dimensions: ['service'],
    emittedBy: ['connections', 'oauth-callback', 'sync-worker', 'health-worker'],
    when: 'a connection moves to authorization_required (refresh refused, scope shrank, token proven bad)',
  },
  healthChecks: {
    name: 'HealthChecks',
    dimensions: ['service'],
    emittedBy: ['health-worker'],
    when: 'one connection\'s health check finished (any outcome)',
  },
  webhooksRepaired: {
    name: 'WebhooksRepaired',
    dimensions: ['service'],
    emittedBy: ['health-worker'],
    when: 'a health check re-created a missing or disabled webhook subscription',
  },
  syncRunsCompleted: {
    name: 'SyncRunsCompleted',
    dimensions: ['service'],
    emittedBy: ['sync-worker'],
    when: 'a sync run reached its last page',
  },
  syncRunsGivenUp: {
    name: 'SyncRunsGivenUp',
    dimensions: ['service'],
    emittedBy: ['sync-worker'],
    when: 'a sync run exhausted its bounded tries and was recorded as given up',
  },
  meetingEventsUnpublished: {
    name: 'MeetingEventsUnpublished',
    dimensions: ['service'],
    emittedBy: ['webhook', 'sync-worker', 'health-worker'],
    when:
      'Meeting Changed events that PutEvents still refused after the publisher\'s bounded retries (value: how many); ' +
      'they stay pending with their meeting and the health worker\'s sweep publishes them later',
  },
} as const satisfies Record<string, CustomMetricDef>;

export type CustomMetricKey = keyof typeof CUSTOM_METRICS;

/** The metric names emitted with the `service` dimension only (HandledFailures also carries `function`). */
export type ServiceMetricName = Exclude<(typeof CUSTOM_METRICS)[CustomMetricKey]['name'], typeof CUSTOM_METRICS.handledFailures.name>;
