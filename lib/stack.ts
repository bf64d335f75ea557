/**
 * The Calendly connector on AWS, laid out like the architecture diagram in the design:
 *
 *   HTTP API (JWT) ──► connections / meetings / oauth-callback / webhook / ping ──► DynamoDB
 *                                   │
 *                                   └──► SQS sync queue ──► sync-worker
 *   EventBridge Scheduler ──► health-scheduler ──► SQS health queue ──► health-worker
 *   webhook / sync-worker / health-worker ──► EventBridge bus (Meeting Changed) ──► archive, host app rules
 *
 * plus the app secret, alarms and the outputs to register at Calendly.
 */
import { CfnCondition, CfnElement, CfnOutput, CfnParameter, Duration, Fn, RemovalPolicy, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { ScheduleExpression, Schedule, ScheduleTargetInput } from 'aws-cdk-lib/aws-scheduler';
import { LambdaInvoke } from 'aws-cdk-lib/aws-scheduler-targets';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { QueueName } from '../functions/ports.js';
import { BACKGROUND_HANDLERS, ROUTES, type HandlerName } from '../functions/routes.js';
import { TABLES, type TableKey } from '../functions/store/tables.js';
import { ALL_LAMBDAS, type LambdaName } from './bundling.js';
import { ConnectorApi, type Throttle } from './constructs/connector-api.js';
import { DataTables } from './constructs/data-tables.js';
import { HandlerFunction } from './constructs/handler-function.js';
import { MeetingEvents } from './constructs/meeting-events.js';
import { Monitoring } from './constructs/monitoring.js';
import { DeadLetterQueue, WorkQueue } from './constructs/work-queue.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from './metrics.js';
import { ACCESS, ASYNC_FAILURE_DESTINATION_ACTIONS, type FunctionAccess, type TableAccess } from './permissions.js';

/** Memory and timeout per Lambda. HTTP handlers stay under API Gateway's 30 s integration limit. */

/**
 * The token keyring's generated-string template: one key `k1`, 43 characters of [A-Za-z0-9]
 * (unpadded base64 of 32 bytes, ~254 bits). Frozen: a change here makes CloudFormation generate a
 * new keyring on the next deploy, and nothing sealed before would open.
 */
export const TOKEN_KEYRING_TEMPLATE = Object.freeze({
  secretStringTemplate: '{"current":"k1"}',
  generateStringKey: 'k1',
  passwordLength: 43,
  excludePunctuation: true,
  includeSpace: false,
});

export const FUNCTION_SETTINGS: Record<LambdaName, { memorySize: number; timeout: Duration; description: string }> = {
  // Reconnect may wait for a running reconnect's lease, then make a few Calendly calls.
  connections: { memorySize: 512, timeout: Duration.seconds(25), description: 'Connect, reconnect, disconnect and status of the caller\'s Calendly connection' },
  meetings: { memorySize: 512, timeout: Duration.seconds(10), description: 'The caller\'s meetings by start time' },
  // Code exchange, /users/me and the webhook step.
  'oauth-callback': { memorySize: 512, timeout: Duration.seconds(25), description: 'OAuth callback from Calendly' },
  // Calendly stops reading after 15 s; answer well before that.
  webhook: { memorySize: 512, timeout: Duration.seconds(10), description: 'Calendly webhook ingest into meetings' },
  ping: { memorySize: 256, timeout: Duration.seconds(3), description: 'Liveness probe' },
  // One connection per invocation; a 429 may wait out Calendly's one-minute window.
  'sync-worker': { memorySize: 512, timeout: Duration.seconds(120), description: 'Pages Calendly scheduled events into meetings' },
  'health-scheduler': { memorySize: 512, timeout: Duration.seconds(60), description: 'Fans out due connections to the health queue' },
  'health-worker': { memorySize: 512, timeout: Duration.seconds(90), description: 'Refreshes tokens and repairs webhooks' },
};

/** Visibility ≥ 6x the consumer's timeout, so a message is never redelivered while it is still being worked on. */
const VISIBILITY_FACTOR = 6;
/** Tries before a message lands in the DLQ: enough to ride out a Calendly outage of a few minutes or a rate-limit window. */
const MAX_RECEIVE_COUNT = 5;

/**
 * API Gateway throttles, per route. Calendly's deliveries get a bucket of their own, larger
 * than the user routes': a delivery refused with 429 is retried by Calendly, but 24 hours of
 * failures disable the subscription, and a burst of bookings (a group event filling up, a
 * bulk reschedule) arrives all at once. The user routes serve one SaaS's settings pages and
 * its backend's meeting reads; their lower default keeps one noisy client from eating the
 * account's Lambda concurrency (shared with the webhook function) or API Gateway's
 * account-wide rate (10,000 rps per region, shared by every API in the account).
 */
export const THROTTLES: { userRoutes: Throttle; webhook: Throttle } = {
  userRoutes: { rateLimit: 25, burstLimit: 50 },
  webhook: { rateLimit: 200, burstLimit: 400 },
};

/**
 * Age of the oldest message that means a queue's consumer is failing or falling behind. A
 * failed record comes back after the visibility timeout (sync 720 s, health 540 s), so these
 * mean "failed at least twice, or a backlog of half an hour"; health messages are spread over
 * one check period, so their limit grows with it.
 */
const queueMaxAge = (q: QueueName, healthCheckMinutes: number): Duration =>
  q === 'sync' ? Duration.minutes(30) : Duration.minutes(Math.max(30, 2 * healthCheckMinutes));

const contextString = (scope: Construct, key: string): string | undefined => {
  const v: unknown = scope.node.tryGetContext(key);
  return v === undefined || v === null || v === '' ? undefined : String(v);
};
const contextList = (scope: Construct, key: string): string[] =>
  (contextString(scope, key) ?? '').split(',').map((s) => s.trim()).filter(Boolean);

export class CalendlyConnectorStack extends Stack {
  readonly tables: DataTables;
  readonly functions: Record<LambdaName, HandlerFunction>;
  readonly queues: Record<QueueName, WorkQueue>;
  readonly api: ConnectorApi;
  readonly appSecret: Secret;
  readonly tokenKeyring: Secret;
  readonly monitoring: Monitoring;
  readonly meetingEvents: MeetingEvents;

  constructor(scope: Construct, id: string, props?: StackProps) {
    // No CDK metadata resource: its condition lists every region it is available in by name,
    // and the template must name no region (one template for every region and partition).
    super(scope, id, { analyticsReporting: false, ...props });

    // ---- Deploy-time parameters (one synthesized template, many environments). A context value
    // of the same name, when given, becomes the parameter's default.
    const jwtIssuer = new CfnParameter(this, 'JwtIssuer', {
      type: 'String',
      description: 'Issuer (iss) of the JWTs your app sends, e.g. https://cognito-idp.<region>.amazonaws.com/<pool-id> or https://<tenant>.auth0.com/',
      allowedPattern: '^https://.+',
      default: contextString(this, 'jwtIssuer'),
    });
    const jwtAudience = new CfnParameter(this, 'JwtAudience', {
      type: 'CommaDelimitedList',
      description: 'Accepted audiences (aud, or client_id for Cognito access tokens), comma-separated',
      default: contextString(this, 'jwtAudience'),
    });
    const appRedirectUrl = new CfnParameter(this, 'AppRedirectUrl', {
      type: 'String',
      description: 'Where the OAuth callback sends the browser afterwards (?calendly=connected|error)',
      allowedPattern: '^https?://.+',
      default: contextString(this, 'appRedirectUrl'),
    });
    const allowedOrigins = new CfnParameter(this, 'AllowedOrigins', {
      type: 'CommaDelimitedList',
      description: 'Browser origins of your app allowed to call the API (CORS), comma-separated, e.g. https://app.example.com; empty: no CORS',
      default: contextString(this, 'allowedOrigins') ?? '',
    });
    const alarmEmail = new CfnParameter(this, 'AlarmEmail', {
      type: 'String',
      description: 'E-mail address subscribed to the alarm topic (confirm the subscription mail); empty: none',
      allowedPattern: '^$|^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$',
      constraintDescription: 'an e-mail address, or empty',
      default: contextString(this, 'alarmEmail') ?? '',
    });
    const authorizationRequiredThreshold = new CfnParameter(this, 'AuthorizationRequiredAlarmThreshold', {
      type: 'Number',
      description: 'Connections moving to authorization_required within one hour that fire the alarm (ordinary churn stays far below; raise it for very large fleets)',
      minValue: 1,
      default: Number(contextString(this, 'authorizationRequiredAlarmThreshold') ?? 10),
    });
    const eventArchiveRetentionDays = new CfnParameter(this, 'EventArchiveRetentionDays', {
      type: 'Number',
      description: 'Days the archive of Meeting Changed events keeps them for replay (0 = indefinitely)',
      minValue: 0,
      default: Number(contextString(this, 'eventArchiveRetentionDays') ?? 30),
    });
    const hasAllowedOrigins = new CfnCondition(this, 'HasAllowedOrigins', {
      expression: Fn.conditionNot(Fn.conditionEquals(Fn.join('', allowedOrigins.valueAsList), '')),
    });
    const hasAlarmEmail = new CfnCondition(this, 'HasAlarmEmail', {
      expression: Fn.conditionNot(Fn.conditionEquals(alarmEmail.valueAsString, '')),
    });

    // ---- Synth-time settings (context): they change the template's shape or are rarely changed.
    const jwtScopes = contextList(this, 'jwtScopes');
    const logLevel = contextString(this, 'logLevel') ?? 'INFO';
    const healthCheckMinutes = Number(contextString(this, 'healthCheckMinutes') ?? 15);
    if (!Number.isInteger(healthCheckMinutes) || healthCheckMinutes < 1) throw new Error('context healthCheckMinutes must be a positive integer');
    const logRetention = RetentionDays.ONE_MONTH;

    // ---- Data
    this.tables = new DataTables(this, 'Tables');

    // ---- App secret. The token encryption key lives in this secret (not a KMS key used for
    // envelope encryption): tokens are sealed with AES-256-GCM by functions/shared/crypto.ts
    // with the user id as AAD, the key is fetched once per container (cached), so no KMS call
    // sits in the path of every token read/refresh (latency, per-request cost, KMS quotas); and
    // the local runtime runs the very same code with a key from its environment. The secret is
    // itself encrypted by KMS (aws/secretsmanager) and readable only by the functions that need it.
    // The key is generated at deploy time and never leaves AWS: 43 characters of [A-Za-z0-9] are
    // valid unpadded base64 of 32 bytes (~254 bits of entropy). Retained, because it is the only
    // way to read the tokens in the retained tables.
    this.appSecret = new Secret(this, 'AppSecret', {
      description: 'Calendly connector: {clientId, clientSecret, webhookSigningKey} from the Calendly OAuth app, plus the generated tokenEncryptionKey (keep it)',
      generateSecretString: {
        secretStringTemplate: JSON.stringify({ clientId: '', clientSecret: '', webhookSigningKey: '' }),
        generateStringKey: 'tokenEncryptionKey',
        passwordLength: 43,
        excludePunctuation: true,
        includeSpace: false,
      },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.appSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'No automatic rotation: the Calendly client id/secret and the app webhook signing key are issued in the Calendly developer portal and cannot be rotated by a Lambda; rotating the token encryption key requires re-sealing every stored token, which is a planned manual operation, not a schedule.',
    });

    // ---- Token keyring: the keys that seal tokens and signing keys at rest, in a secret of their
    // own (reasons in lib/README.md, "The token key"). Its generated-string template is frozen
    // (TOKEN_KEYRING_TEMPLATE, pinned by the template test): CloudFormation generates a new value
    // only when that template changes, and a new value would make every stored token unreadable.
    // After the first deployment only `npm run rotate-keys` changes its value. Retained, with the
    // tables. The app secret above still holds the pre-keyring key, which opens `v1` values.
    this.tokenKeyring = new Secret(this, 'TokenKeyring', {
      description: 'Calendly connector: token keyring {"current":"<kid>","<kid>":"<base64 key>",...}. Change only with npm run rotate-keys.',
      generateSecretString: { ...TOKEN_KEYRING_TEMPLATE },
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.tokenKeyring).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'Rotating the token key re-seals every stored token and signing key: an operator step (npm run rotate-keys, lib/README.md), not a Lambda on a schedule.',
    });

    // ---- Meeting Changed events for the host app: the bus and its archive
    this.meetingEvents = new MeetingEvents(this, 'MeetingEvents', { archiveRetentionDays: eventArchiveRetentionDays.valueAsNumber });

    // ---- Queues
    const queueFor = (name: QueueName, consumer: LambdaName) =>
      new WorkQueue(this, name === 'sync' ? 'SyncQueue' : 'HealthQueue', {
        visibilityTimeout: Duration.seconds(FUNCTION_SETTINGS[consumer].timeout.toSeconds() * VISIBILITY_FACTOR),
        maxReceiveCount: MAX_RECEIVE_COUNT,
      });
    this.queues = { sync: queueFor('sync', 'sync-worker'), health: queueFor('health', 'health-worker') };

    // ---- API (created before the functions: its URL is their PUBLIC_BASE_URL)
    this.api = new ConnectorApi(this, 'Api', {
      jwtIssuer: jwtIssuer.valueAsString,
      jwtAudience: jwtAudience.valueAsList,
      jwtScopes,
      defaultThrottle: THROTTLES.userRoutes,
      routeThrottles: { webhook: THROTTLES.webhook },
      cors: { allowOrigins: allowedOrigins.valueAsList, condition: hasAllowedOrigins },
      logRetention,
    });
    const publicBaseUrl = contextString(this, 'publicBaseUrl') ?? this.api.endpoint;

    // ---- Functions: environment and grants both follow lib/permissions.ts
    const commonEnv: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_LOG_LEVEL: logLevel,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      PUBLIC_BASE_URL: publicBaseUrl,
      APP_REDIRECT_URL: appRedirectUrl.valueAsString,
      CALENDLY_AUTH_URL: contextString(this, 'calendlyAuthUrl') ?? 'https://auth.calendly.com',
      CALENDLY_API_URL: contextString(this, 'calendlyApiUrl') ?? 'https://api.calendly.com',
      WEBHOOK_TOLERANCE_SECONDS: contextString(this, 'webhookToleranceSeconds') ?? '90000',
    };
    const queueUrlEnv: Record<QueueName, string> = { sync: 'SYNC_QUEUE_URL', health: 'HEALTH_QUEUE_URL' };

    const functions = {} as Record<LambdaName, HandlerFunction>;
    for (const name of ALL_LAMBDAS) {
      const access = ACCESS[name];
      const env: Record<string, string> = { ...commonEnv };
      for (const key of Object.keys(access.tables) as TableKey[]) env[TABLES[key].envVar] = this.tables.byKey[key].tableName;
      for (const q of access.sends) env[queueUrlEnv[q]] = this.queues[q].queue.queueUrl;
      if (access.secret) {
        env.APP_SECRET_ARN = this.appSecret.secretArn;
        env.TOKEN_KEYRING_ARN = this.tokenKeyring.secretArn;
      }
      if (access.publishes) env.EVENT_BUS_NAME = this.meetingEvents.bus.eventBusName;
      // The health check's period (when a connection is next due) must match the schedule's rate.
      if (name === 'health-scheduler' || name === 'health-worker') env.HEALTH_CHECK_INTERVAL_SECONDS = String(healthCheckMinutes * 60);
      if (name === 'health-worker') env.RECONCILE_INTERVAL_SECONDS = contextString(this, 'reconcileIntervalSeconds') ?? '86400';
      // The sync worker gives a failing run up on the receive that would otherwise be its last.
      if (name === 'sync-worker') env.SYNC_QUEUE_MAX_RECEIVE_COUNT = String(MAX_RECEIVE_COUNT);

      const hf = new HandlerFunction(this, `Fn-${name}`, { name, ...FUNCTION_SETTINGS[name], environment: env, logRetention });
      this.grant(hf, access);
      functions[name] = hf;
    }
    this.functions = functions;

    // ---- Queue consumers. Calendly's rate limits are per user (50 req/min on Free, 500 on paid,
    // and 8 token requests/user/min), and each message is one connection, so workers running in
    // parallel spend different users' budgets and do not add up against one limit. What could
    // exceed a user's limit is two workers on the same user at once (a duplicate message, or a
    // redelivery while the first run is still going); the sync lease (syncState) and the token
    // refresh lease (connections) serialise those in code, because an event source cannot
    // partition by user. maxConcurrency then bounds the rest: the total load our single OAuth
    // app puts on Calendly, and how many Lambdas a backlog (say, a mass reconnect after a deploy)
    // can fan out into, most of which would only wait on those leases. batchSize 1 on sync: one
    // user's 429 back-off (up to the 60 s window) holds only that user's message.
    const consumerSettings: Record<QueueName, { batchSize: number; maxConcurrency: number }> = {
      sync: { batchSize: 1, maxConcurrency: 5 },
      health: { batchSize: 5, maxConcurrency: 5 },
    };
    for (const name of ALL_LAMBDAS) {
      const q = ACCESS[name].consumes;
      if (!q) continue;
      functions[name].fn.addEventSource(
        new SqsEventSource(this.queues[q].queue, { ...consumerSettings[q], reportBatchItemFailures: true }),
      );
    }

    // ---- Routes (after the functions; only routes/integrations depend on them)
    const httpFunctions = {} as Record<HandlerName, HandlerFunction['fn']>;
    for (const name of ['connections', 'meetings', 'oauth-callback', 'webhook', 'ping'] as const) httpFunctions[name] = functions[name].fn;
    this.api.connect(httpFunctions);

    // ---- Health check schedule: EventBridge Scheduler (not an Events rule) invokes the
    // scheduler Lambda; its role may invoke that one function only.
    const schedulerDlq = new DeadLetterQueue(this, 'HealthScheduleDlq').queue;
    const scheduleRole = new Role(this, 'HealthScheduleRole', {
      assumedBy: new ServicePrincipal('scheduler.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': this.account } } }),
      description: 'EventBridge Scheduler: invoke the health-scheduler function, dead-letter to its DLQ',
    });
    const healthSchedulerFn = functions['health-scheduler'].fn;
    const schedule = new Schedule(this, 'HealthSchedule', {
      description: 'Health-check tick: fans out due connections to the health queue',
      schedule: ScheduleExpression.rate(Duration.minutes(healthCheckMinutes)),
      target: new LambdaInvoke(healthSchedulerFn, {
        role: scheduleRole,
        input: ScheduleTargetInput.fromObject({ kind: 'health-tick' }),
        retryAttempts: 3,
        // A tick older than one period is superseded by the next one.
        maxEventAge: Duration.minutes(Math.max(1, healthCheckMinutes)),
        deadLetterQueue: schedulerDlq,
      }),
    });

    Validations.of(scheduleRole).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${this.logicalIdOf(healthSchedulerFn.node.defaultChild as CfnElement)}.Arn>:*]`,
      reason: 'Generated by the LambdaInvoke target grant: invoke the health-scheduler function and its versions/aliases (`<arn>:*`), that one function only.',
    });

    // Scheduler hands the tick to Lambda asynchronously; its DLQ only catches failed deliveries.
    // A tick whose function run fails is retried by Lambda, then lands in the same DLQ, so every
    // lost tick is visible (and alarmed) in one place. Older than one period, it is superseded.
    // The destination is bound by hand: SqsDestination's grant adds GetQueueAttributes and
    // GetQueueUrl, and Lambda needs only SendMessage to deliver a failed invocation.
    healthSchedulerFn.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.minutes(Math.max(1, healthCheckMinutes)),
      onFailure: { bind: () => ({ destination: schedulerDlq.queueArn }) },
    });
    functions['health-scheduler'].role.addToPrincipalPolicy(
      new PolicyStatement({ actions: [...ASYNC_FAILURE_DESTINATION_ACTIONS], resources: [schedulerDlq.queueArn] }),
    );

    // ---- Alarms, their topic, the dashboard
    const webhookRoute = ROUTES.find((r) => r.handler === 'webhook')!;
    this.monitoring = new Monitoring(this, 'Monitoring', {
      api: this.api.api,
      webhookRoutePath: webhookRoute.path,
      functions: Object.fromEntries(ALL_LAMBDAS.map((n) => [n, functions[n].fn])) as Record<LambdaName, HandlerFunction['fn']>,
      workers: BACKGROUND_HANDLERS,
      workQueues: {
        SyncQueue: { queue: this.queues.sync.queue, maxAge: queueMaxAge('sync', healthCheckMinutes) },
        HealthQueue: { queue: this.queues.health.queue, maxAge: queueMaxAge('health', healthCheckMinutes) },
      },
      deadLetterQueues: { SyncDlq: this.queues.sync.deadLetterQueue, HealthDlq: this.queues.health.deadLetterQueue, HealthScheduleDlq: schedulerDlq },
      authorizationRequiredPerHour: authorizationRequiredThreshold.valueAsNumber,
      alarmEmail: { address: alarmEmail.valueAsString, condition: hasAlarmEmail },
    });

    // ---- Outputs: what to register in the Calendly OAuth app and where to put its secrets
    const base = publicBaseUrl.endsWith('/') ? publicBaseUrl.slice(0, -1) : publicBaseUrl;
    new CfnOutput(this, 'ApiUrl', { value: base, description: 'Base URL of the HTTP API' });
    new CfnOutput(this, 'OAuthRedirectUri', {
      value: Fn.join('', [base, '/oauth/calendly/callback']),
      description: 'Redirect URI to register in the Calendly OAuth app',
    });
    new CfnOutput(this, 'WebhookBaseUrl', {
      value: Fn.join('', [base, '/webhooks/calendly/']),
      description: 'Webhook callback base; the service creates one user-scoped subscription per connection under it',
    });
    new CfnOutput(this, 'AppSecretArn', {
      value: this.appSecret.secretArn,
      description: 'Fill clientId, clientSecret and webhookSigningKey here (keep tokenEncryptionKey)',
    });
    new CfnOutput(this, 'TokenKeyringArn', {
      value: this.tokenKeyring.secretArn,
      description: 'The token keyring: change it only with npm run rotate-keys (TOKEN_KEYRING_ARN)',
    });
    new CfnOutput(this, 'HealthScheduleName', { value: schedule.scheduleName });
    new CfnOutput(this, 'AlarmTopicArn', {
      value: this.monitoring.topic.topicArn,
      description: 'SNS topic every alarm notifies; subscribe more endpoints (chat, paging) here',
    });
    new CfnOutput(this, 'DashboardName', { value: this.monitoring.dashboard.dashboardName });
    new CfnOutput(this, 'EventBusName', {
      value: this.meetingEvents.bus.eventBusName,
      description: 'EventBridge bus of the Meeting Changed events (source calendly-connector): attach your rules here',
    });
    new CfnOutput(this, 'EventBusArn', { value: this.meetingEvents.bus.eventBusArn });
    new CfnOutput(this, 'EventArchiveArn', { value: this.meetingEvents.archive.archiveArn, description: 'Archive to replay Meeting Changed events from (lib/README.md)' });
  }

  private logicalIdOf(element: CfnElement): string {
    return this.resolve(this.getLogicalId(element)) as string;
  }

  /**
   * The row's permissions as policy statements on exactly those resources: table actions on the
   * table's ARN, queries on `<table ARN>/index/<name>` (never `index/*`), SendMessage on each
   * queue, GetSecretValue on the secret, PutEvents on the meeting event bus. Not the CDK grant helpers: grantReadData alone adds Scan,
   * ConditionCheckItem, DescribeTable, stream reads and every index of the table.
   */
  private grant(hf: HandlerFunction, access: FunctionAccess): void {
    for (const [key, t] of Object.entries(access.tables) as [TableKey, TableAccess][]) {
      const table = this.tables.byKey[key];
      if (t.actions?.length) {
        hf.role.addToPrincipalPolicy(new PolicyStatement({ actions: t.actions.map((a) => `dynamodb:${a}`), resources: [table.tableArn] }));
      }
      if (t.queryIndexes?.length) {
        hf.role.addToPrincipalPolicy(
          new PolicyStatement({ actions: ['dynamodb:Query'], resources: t.queryIndexes.map((ix) => `${table.tableArn}/index/${ix}`) }),
        );
      }
    }
    if (access.sends.length) {
      hf.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['sqs:SendMessage'], resources: access.sends.map((q) => this.queues[q].queue.queueArn) }));
    }
    if (access.secret) {
      hf.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [this.appSecret.secretArn, this.tokenKeyring.secretArn] }));
    }
    // This bus only (not grantPutEventsTo, which is the same statement, but kept beside the others).
    if (access.publishes) hf.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['events:PutEvents'], resources: [this.meetingEvents.bus.eventBusArn] }));
  }
}
