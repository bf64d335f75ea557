import { Aws, CfnCondition, Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import {
  Alarm,
  AlarmStatusWidget,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  MathExpression,
  Metric,
  TextWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { PolicyStatement, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnSubscription, Subscription, SubscriptionProtocol, Topic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { LambdaName } from '../bundling.js';
import { CUSTOM_METRICS, FUNCTION_DIMENSION, METRICS_NAMESPACE, SERVICE_NAME, type CustomMetricKey } from '../metrics.js';

const FIVE_MINUTES = Duration.minutes(5);

/**
 * When each alarm fires, and why there. Every alarm treats missing data as fine: most of
 * these metrics are only emitted when something happens.
 */
export const ALARM_RULES = {
  /** Any message in a DLQ: work that failed every retry and waits for a person. */
  dlqDepth: { threshold: 1, period: FIVE_MINUTES },
  /** Unhandled errors (init failures, timeouts, a throw out of the handler): each one is a bug or an outage. */
  lambdaErrors: { threshold: 1, period: FIVE_MINUTES },
  /**
   * A handled 500 is a user (or Calendly) seeing our failure: the first one fires. A worker's
   * failed record is retried by SQS, so one transient failure is not news; a few within 15
   * minutes is (and a message that keeps failing ends in the DLQ, alarmed above).
   */
  handledFailuresHttp: { threshold: 1, period: FIVE_MINUTES },
  handledFailuresWorker: { threshold: 3, period: Duration.minutes(15) },
  /**
   * 5xx as API Gateway counts them: besides the handled 500s, what the handlers never see
   * (integration timeouts, Lambda throttles or init failures, a broken permission). A lone
   * timeout is retried by Calendly or the user; five in five minutes is a pattern.
   */
  api5xx: { threshold: 5, period: FIVE_MINUTES },
  /** A parked delivery means a payload we do not understand yet: look at it. */
  parkedWebhooks: { threshold: 1, period: FIVE_MINUTES },
  /** A sync that gave up leaves a user's meetings incomplete until the next reconciliation. */
  syncRunsGivenUp: { threshold: 1, period: FIVE_MINUTES },
  /**
   * Counted over an hour against a deploy-time threshold (the AuthorizationRequiredAlarmThreshold
   * parameter): single users revoking access in Calendly or deleting their account are
   * ordinary churn, a handful a day; a fleet-wide cause (client secret changed in the Calendly
   * portal but not in the app secret, refreshes refused, a bug) hits every connection within one
   * health period. See lib/README.md.
   */
  authorizationRequired: { period: Duration.hours(1) },
  /**
   * A Meeting Changed event PutEvents refused after the publisher's retries. Not lost (it stays
   * pending with its meeting and the health worker's sweep publishes it), but the host app hears
   * late, and a bus that keeps refusing (a lost grant, a deleted bus, throttling) is an outage.
   */
  meetingEventsUnpublished: { threshold: 1, period: FIVE_MINUTES },
} as const;

export interface MonitoringProps {
  api: HttpApi;
  /** Path of the webhook route, whose detailed metrics (DetailedMetricsEnabled) show deliveries. */
  webhookRoutePath: string;
  functions: Record<LambdaName, IFunction>;
  /** Functions fed by SQS: their handled failures are retried, so their alarm is less eager. */
  workers: readonly LambdaName[];
  workQueues: Record<string, { queue: IQueue; maxAge: Duration }>;
  deadLetterQueues: Record<string, IQueue>;
  /** ConnectionsAuthorizationRequired per hour that fires the alarm (a parameter's value). */
  authorizationRequiredPerHour: number;
  /** An e-mail address to subscribe to the alarm topic (a parameter's value) and its condition. */
  alarmEmail: { address: string; condition: CfnCondition };
}

/**
 * Alarms on what needs a person, an SNS topic they notify (with an optional e-mail
 * subscription), and a dashboard of the flows: deliveries, syncs, health checks, errors, queues,
 * the API's 4xx/5xx.
 */
export class Monitoring extends Construct {
  readonly topic: Topic;
  readonly topicKey: Key;
  readonly dashboard: Dashboard;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);

    // SSE with a customer managed key: CloudWatch cannot publish to a topic encrypted with the
    // AWS managed key (alias/aws/sns), whose policy it cannot be added to.
    // It encrypts notifications in flight only: nothing outlives the stack that it would unlock.
    this.topicKey = new Key(this, 'AlarmTopicKey', {
      description: 'Calendly connector: encrypts the alarm topic',
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    this.topicKey.addToResourcePolicy(
      new PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [new ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    );
    this.topic = new Topic(this, 'AlarmTopic', { displayName: 'Calendly connector alarms', masterKey: this.topicKey, enforceSSL: true });
    const email = new Subscription(this, 'AlarmEmail', { topic: this.topic, protocol: SubscriptionProtocol.EMAIL, endpoint: props.alarmEmail.address });
    (email.node.defaultChild as CfnSubscription).cfnOptions.condition = props.alarmEmail.condition;

    const action = new SnsAction(this.topic);
    const alarm = (alarmId: string, metric: IMetric, threshold: number, description: string) => {
      const a = new Alarm(this, alarmId, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(action);
      a.addOkAction(action);
      this.alarms.push(a);
      return a;
    };

    // ---- Metrics
    const custom = (key: CustomMetricKey, period: Duration, fn?: LambdaName, label?: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName: CUSTOM_METRICS[key].name,
        dimensionsMap: fn ? { service: SERVICE_NAME, [FUNCTION_DIMENSION]: fn } : { service: SERVICE_NAME },
        statistic: 'Sum',
        period,
        ...(label ? { label } : {}),
      });
    // The webhook route's own metrics (the stage's RouteSettings enable them for that route
    // only). Found by search on the route's path words rather than by a fixed dimension set, so
    // the graph does not depend on how API Gateway names the route dimensions.
    const routeWords = props.webhookRoutePath.split(/[^A-Za-z0-9]+/).filter((w) => w && !w.startsWith('hookKey')).join(' ');
    const webhookRoute = (metricName: string, label: string, statistic = 'Sum') =>
      new MathExpression({
        expression: `SEARCH('Namespace="AWS/ApiGateway" MetricName="${metricName}" ApiId="${props.api.apiId}" ${routeWords}', '${statistic}', 300)`,
        label,
        period: FIVE_MINUTES,
      });
    const fnNames = Object.keys(props.functions) as LambdaName[];
    const isWorker = (n: LambdaName) => props.workers.includes(n);

    // ---- Alarms
    for (const [name, dlq] of Object.entries(props.deadLetterQueues)) {
      alarm(
        `${name}Depth`,
        dlq.metricApproximateNumberOfMessagesVisible({ period: ALARM_RULES.dlqDepth.period, statistic: 'Maximum' }),
        ALARM_RULES.dlqDepth.threshold,
        `Messages waiting in ${name}: work that failed every retry. Inspect, fix, then redrive (lib/README.md).`,
      );
    }
    for (const [name, { queue, maxAge }] of Object.entries(props.workQueues)) {
      alarm(
        `${name}OldestMessage`,
        queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum' }),
        maxAge.toSeconds(),
        `The oldest message on ${name} is older than ${maxAge.toHumanString()}: its consumer is failing repeatedly or not keeping up.`,
      );
    }
    for (const name of fnNames) {
      const fn = props.functions[name];
      alarm(`${name}-Errors`, fn.metricErrors({ period: ALARM_RULES.lambdaErrors.period, statistic: 'Sum' }), ALARM_RULES.lambdaErrors.threshold, `Unhandled errors in the ${name} function (init failures, timeouts, throws).`);
      const rule = isWorker(name) ? ALARM_RULES.handledFailuresWorker : ALARM_RULES.handledFailuresHttp;
      alarm(
        `${name}-HandledFailures`,
        custom('handledFailures', rule.period, name),
        rule.threshold,
        isWorker(name)
          ? `${name}: ${rule.threshold}+ records failed within ${rule.period.toHumanString()} (reported for an SQS retry). See its ERROR logs.`
          : `${name}: answered 500 for an unexpected error. See its ERROR logs.`,
      );
    }
    alarm(
      'Api5xx',
      props.api.metricServerError({ period: ALARM_RULES.api5xx.period, statistic: 'Sum' }),
      ALARM_RULES.api5xx.threshold,
      `The HTTP API answered ${ALARM_RULES.api5xx.threshold}+ 5xx within 5 minutes (handled 500s, integration timeouts, Lambda throttles). See the access logs.`,
    );
    alarm('ParkedWebhooks', custom('parkedWebhooks', ALARM_RULES.parkedWebhooks.period), ALARM_RULES.parkedWebhooks.threshold, 'Signed Calendly webhooks we could not parse were parked for replay.');
    alarm('SyncRunsGivenUp', custom('syncRunsGivenUp', ALARM_RULES.syncRunsGivenUp.period), ALARM_RULES.syncRunsGivenUp.threshold, 'A sync run exhausted its tries and was given up; the next reconciliation retries it. See the sync-worker ERROR logs.');
    alarm(
      'ConnectionsAuthorizationRequired',
      custom('connectionsAuthorizationRequired', ALARM_RULES.authorizationRequired.period),
      props.authorizationRequiredPerHour,
      'Many connections moved to authorization_required within an hour (more than ordinary churn): check the Calendly client credentials in the app secret and the refresh errors in the logs.',
    );

    alarm(
      'MeetingEventsUnpublished',
      custom('meetingEventsUnpublished', ALARM_RULES.meetingEventsUnpublished.period),
      ALARM_RULES.meetingEventsUnpublished.threshold,
      'Meeting Changed events could not be put on the event bus after retries; they stay pending and the next health sweep publishes them. Check the bus, the functions\' events:PutEvents grant and their WARN logs.',
    );

    // ---- Dashboard: no fixed name (one per stack, any region); widgets resolve the region at deploy.
    const lambdaMetric = (name: LambdaName, m: 'Invocations' | 'Errors' | 'Throttles') =>
      props.functions[name].metric(m, { period: FIVE_MINUTES, statistic: 'Sum', label: name });
    const graph = (title: string, left: IMetric[], width = 8, right?: IMetric[]) =>
      new GraphWidget({ title, left, ...(right ? { right } : {}), width, height: 6 });
    this.dashboard = new Dashboard(this, 'Dashboard', { defaultInterval: Duration.hours(24) });
    this.dashboard.addWidgets(
      new TextWidget({
        markdown: `## Calendly connector (${Fn.ref('AWS::StackName')})\nDeliveries, syncs, health checks, errors and queues. Alarms notify the alarm topic; lib/README.md says what each one means.`,
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      graph('API requests, 4xx, 5xx', [
        props.api.metricCount({ period: FIVE_MINUTES, statistic: 'Sum', label: 'requests' }),
        props.api.metricClientError({ period: FIVE_MINUTES, statistic: 'Sum', label: '4xx' }),
        props.api.metricServerError({ period: FIVE_MINUTES, statistic: 'Sum', label: '5xx' }),
      ]),
      graph('Webhook deliveries (Calendly)', [
        webhookRoute('Count', 'deliveries'),
        webhookRoute('4xx', '4xx (401 bad signature, 410 retired hook, 413)'),
        webhookRoute('5xx', '5xx'),
        custom('parkedWebhooks', FIVE_MINUTES),
      ]),
      graph('API latency (p99, ms)', [
        props.api.metricLatency({ period: FIVE_MINUTES, statistic: 'p99', label: 'all routes' }),
        webhookRoute('Latency', 'webhook', 'p99'),
      ]),
    );
    this.dashboard.addWidgets(
      graph('Syncs', [
        lambdaMetric('sync-worker', 'Invocations'),
        custom('syncRunsCompleted', FIVE_MINUTES),
        custom('syncRunsGivenUp', FIVE_MINUTES),
      ]),
      graph('Health checks', [
        custom('healthChecks', FIVE_MINUTES),
        custom('webhooksRepaired', FIVE_MINUTES),
        lambdaMetric('health-scheduler', 'Invocations'),
      ], 8, [custom('connectionsAuthorizationRequired', FIVE_MINUTES)]),
      graph('Queues: age of oldest message (s)', Object.entries(props.workQueues).map(([name, { queue }]) =>
        queue.metricApproximateAgeOfOldestMessage({ period: FIVE_MINUTES, statistic: 'Maximum', label: name }),
      ), 8, Object.entries(props.deadLetterQueues).map(([name, dlq]) =>
        dlq.metricApproximateNumberOfMessagesVisible({ period: FIVE_MINUTES, statistic: 'Maximum', label: `${name} depth` }),
      )),
    );
    this.dashboard.addWidgets(
      graph('Handled failures per function', fnNames.map((n) => custom('handledFailures', FIVE_MINUTES, n, n)), 12),
      graph('Lambda errors and throttles', [...fnNames.map((n) => lambdaMetric(n, 'Errors'))], 12, fnNames.map((n) => props.functions[n].metric('Throttles', { period: FIVE_MINUTES, statistic: 'Sum', label: `${n} throttles` }))),
    );
    this.dashboard.addWidgets(
      graph('Meeting Changed events not published (pending for the sweep)', [custom('meetingEventsUnpublished', FIVE_MINUTES)], 24),
    );
    this.dashboard.addWidgets(new AlarmStatusWidget({ title: 'Alarms', alarms: this.alarms, width: 24, height: 6 }));
  }
}
