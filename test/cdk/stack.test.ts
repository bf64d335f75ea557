/**
 * Template assertions for the CDK stack. The app is synthesized once per file, with asset
 * bundling skipped (`aws:cdk:bundling-stacks: []`): bundling each handler is covered by
 * bundles.test.ts with the same esbuild options, and `npx cdk synth` in .ci/run bundles for real.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { App, Validations, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import type { QueueName } from '../../functions/ports.js';
import { ROUTES } from '../../functions/routes.js';
import { parseEncryptionKey, parseKeyring } from '../../functions/shared/crypto.js';
import { ALL_TABLES, TABLES, type TableDef, type TableKey } from '../../functions/store/tables.js';
import { ALL_LAMBDAS, type LambdaName } from '../../lib/bundling.js';
import { ACCESS, ASYNC_FAILURE_DESTINATION_ACTIONS, EVENT_SOURCE_ACTIONS, permissionsOf } from '../../lib/permissions.js';
import { LAMBDA_RUNTIME } from '../../lib/constructs/handler-function.js';
import { ALARM_RULES } from '../../lib/constructs/monitoring.js';
import { CUSTOM_METRICS, FUNCTION_DIMENSION, METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/metrics.js';
import { CalendlyConnectorStack, FUNCTION_SETTINGS, THROTTLES } from '../../lib/stack.js';
import { BACKGROUND_HANDLERS } from '../../functions/routes.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CONTEXT = {
  'aws:cdk:bundling-stacks': [],
  // As `cdk synth` sets it by default: the metadata it adds must not put region names in the template.
  'aws:cdk:version-reporting': true,
  jwtIssuer: 'https://issuer.example.com/',
  jwtAudience: 'app-client',
  appRedirectUrl: 'https://app.example.com/settings',
};

/** The feature flags of cdk.json, so the template tested is the one `cdk synth` makes (e.g. minimized policies). */
const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;

function synth(extraContext: Record<string, unknown> = {}) {
  const app = new App({ context: { ...CDK_JSON_CONTEXT, ...CONTEXT, ...extraContext } });
  // No env, as bin/app.ts: the template must not depend on where it is deployed.
  const stack = new CalendlyConnectorStack(app, 'TestConnector');
  const nag = new AwsSolutionsChecks(app);
  Validations.of(app).addPlugins(nag);
  return { app, stack, nag };
}

let stack: CalendlyConnectorStack;
let template: Template;
let resources: Record<string, Json>;
let nagResult: { success: boolean; violations: Array<{ ruleName: string; violatingResources: Array<{ constructPath: string }> }> };
const logicalId = (el: { node: { defaultChild?: unknown } }) => stack.resolve(stack.getLogicalId(el.node.defaultChild as CfnElement)) as string;

beforeAll(() => {
  const s = synth();
  stack = s.stack;
  nagResult = s.nag.validateScope(s.app) as typeof nagResult;
  // With the nag plugin registered, synth throws on any unacknowledged finding.
  s.app.synth();
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources as Record<string, Json>;
}, 120_000);

/** A second synth with the optional context set (scopes), made once when first needed. */
let variant: Record<string, Json> | undefined;
function variantResources(): Record<string, Json> {
  variant ??= Template.fromStack(synth({ jwtScopes: 'calendly:connect, calendly:read' }).stack).toJSON().Resources as Record<string, Json>;
  return variant;
}

/**
 * What CloudFormation makes of the template's conditions and `Fn::If`s for given parameter
 * values: just the intrinsics this stack uses in them. A CommaDelimitedList parameter is split
 * on commas with each member trimmed, as CloudFormation does.
 */
function resolveWith(params: Record<string, string>, value: unknown): unknown {
  const parameters = template.toJSON().Parameters as Json;
  const conditions = template.toJSON().Conditions as Json;
  const ev = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(ev);
    if (!v || typeof v !== 'object') return v;
    const o = v as Json;
    if ('Ref' in o) {
      if (o.Ref === 'AWS::NoValue') return undefined;
      const raw = params[o.Ref] ?? String(parameters[o.Ref].Default ?? '');
      return parameters[o.Ref].Type === 'CommaDelimitedList' ? raw.split(',').map((x: string) => x.trim()) : raw;
    }
    if ('Fn::Join' in o) return (ev(o['Fn::Join'][1]) as unknown[]).join(o['Fn::Join'][0]);
    if ('Fn::Equals' in o) return ev(o['Fn::Equals'][0]) === ev(o['Fn::Equals'][1]);
    if ('Fn::Not' in o) return !ev(o['Fn::Not'][0]);
    if ('Condition' in o) return ev(conditions[o.Condition]);
    if ('Fn::If' in o) return ev(conditions[o['Fn::If'][0]]) ? ev(o['Fn::If'][1]) : ev(o['Fn::If'][2]);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, ev(x)]));
  };
  return ev(value);
}

const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const fnLogicalId = (name: LambdaName) => logicalId(stack.functions[name].fn);
const fnProps = (name: LambdaName) => resources[fnLogicalId(name)]!.Properties as Json;
const tableLogicalId = (key: TableKey) => logicalId(stack.tables.byKey[key]);
const queueLogicalId = (q: QueueName) => logicalId(stack.queues[q].queue);
/** The synthesized queue's redrive maxReceiveCount. */
const fnQueueMaxReceive = (q: QueueName) => (resources[queueLogicalId(q)]!.Properties as { RedrivePolicy: { maxReceiveCount: number } }).RedrivePolicy.maxReceiveCount;

/** Every statement of the policies attached to a role. */
function statementsOf(roleLogicalId: string): Json[] {
  return ofType('AWS::IAM::Policy')
    .filter(([, p]) => JSON.stringify(p.Properties.Roles).includes(`"${roleLogicalId}"`))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Json[]);
}
const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
describe('one template for any account, region and partition', () => {
  it('has no literal partition, region or account: only AWS::Partition / AWS::Region / AWS::AccountId', () => {
    const json = JSON.stringify(template.toJSON());
    // arn:aws, arn:aws-cn, arn:aws-us-gov …
    expect(json.match(/arn:aws/g) ?? []).toEqual([]);
    // us-east-1, eu-west-3, ap-southeast-2, cn-north-1, us-gov-west-1, il-central-1 …
    expect(json.match(/\b[a-z]{2}(-gov|-iso[a-z]?)?-(north|south|east|west|central)(east|west)?-\d\b/g) ?? []).toEqual([]);
    expect(json.match(/\b\d{12}\b/g) ?? []).toEqual([]);
    // Host names of AWS endpoints differ by partition (amazonaws.com.cn): only service principals are literal.
    // (Parameter descriptions are prose, e.g. a Cognito issuer URL pattern.)
    const { Resources, Outputs } = template.toJSON() as Json;
    const hosts = new Set(JSON.stringify({ Resources, Outputs }).match(/[\w.-]*amazonaws\.com[\w.]*/g) ?? []);
    for (const h of hosts) expect(h, h).toMatch(/^[a-z-]+\.amazonaws\.com$/);
    const principals = JSON.stringify([template.findResources('AWS::IAM::Role'), template.findResources('AWS::Lambda::Permission'), template.findResources('AWS::KMS::Key')]);
    for (const h of hosts) expect(principals, h).toContain(`"${h}"`);
    expect(json).toContain('{"Ref":"AWS::Partition"}');
    expect(json).toContain('{"Ref":"AWS::Region"}');
  });

  it('the app itself sets no environment (bin/app.ts) and cdk.json does not ask for literal partitions', async () => {
    const { readFile } = await import('node:fs/promises');
    const app = await readFile(new URL('../../bin/app.ts', import.meta.url), 'utf8');
    expect(app).not.toMatch(/\benv\s*:/);
    const cdkJson = JSON.parse(await readFile(new URL('../../cdk.json', import.meta.url), 'utf8')) as Json;
    expect(cdkJson.context['@aws-cdk/core:enablePartitionLiterals']).toBeUndefined();
  });
});

/** cfn-lint when this machine has it (`cfn-lint` on PATH): it checks every property against CloudFormation's own schemas. */
const cfnLint = (() => {
  try {
    execFileSync('cfn-lint', ['--version'], { stdio: 'ignore' });
    return 'cfn-lint';
  } catch {
    return undefined;
  }
})();

describe('cfn-lint', () => {
  // What template tests cannot see: property overrides (CorsConfiguration under Fn::If, stage
  // RouteSettings), alarm and dashboard properties, parameter constraints, checked against the
  // resource specifications. W3005 (a DependsOn that a Ref already implies) is CDK's own: it
  // makes every function depend on its role and the role's policy.
  it.skipIf(!cfnLint)('finds nothing in the synthesized template but redundant DependsOn (W3005)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'cfn-lint-'));
    try {
      const file = path.join(dir, 'template.json');
      await writeFile(file, JSON.stringify(template.toJSON()));
      let out = '';
      try {
        out = execFileSync(cfnLint!, ['--format', 'parseable', file], { encoding: 'utf8' });
      } catch (e) {
        out = String((e as { stdout?: string }).stdout ?? e);
      }
      const findings = out.split('\n').filter(Boolean).filter((l) => !/:W3005:/.test(l));
      expect(findings).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('cdk-nag', () => {
  it('AwsSolutions passes with every finding acknowledged with a reason', () => {
    expect(nagResult.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(',')}`)).toEqual([]);
    expect(nagResult.success).toBe(true);
  });
});

describe('HTTP API', () => {
  it('has one route per entry of functions/routes.ts; JWT routes use the authorizer, the others none', () => {
    const authorizers = ofType('AWS::ApiGatewayV2::Authorizer');
    expect(authorizers).toHaveLength(1);
    const [authorizerId] = authorizers[0]!;
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties as Json);
    expect(routes.map((r) => r.RouteKey).sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const def of ROUTES) {
      const r = routes.find((x) => x.RouteKey === `${def.method} ${def.path}`)!;
      if (def.auth) {
        expect(r.AuthorizationType, r.RouteKey).toBe('JWT');
        expect(r.AuthorizerId).toEqual({ Ref: authorizerId });
        expect(r.AuthorizationScopes).toBeUndefined();
      } else {
        expect(r.AuthorizationType, r.RouteKey).toBe('NONE');
        expect(r.AuthorizerId).toBeUndefined();
      }
      // The route's integration invokes the handler named in routes.ts.
      const integrationId = (r.Target['Fn::Join'][1] as Json[]).find((p) => p.Ref)!.Ref as string;
      expect(JSON.stringify(resources[integrationId]!.Properties.IntegrationUri)).toContain(`"${fnLogicalId(def.handler)}"`);
    }
  });

  it('the JWT authorizer takes issuer and audience from the JwtIssuer / JwtAudience parameters', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Issuer: { Ref: 'JwtIssuer' }, Audience: { Ref: 'JwtAudience' } },
    });
    const params = template.toJSON().Parameters as Json;
    expect(params.JwtIssuer).toMatchObject({ Type: 'String', Default: CONTEXT.jwtIssuer });
    expect(params.JwtAudience).toMatchObject({ Type: 'CommaDelimitedList', Default: CONTEXT.jwtAudience });
    expect(params.AppRedirectUrl).toMatchObject({ Type: 'String', Default: CONTEXT.appRedirectUrl });
  });

  it('the $default stage auto-deploys with JSON access logs that never log the path', () => {
    const stages = ofType('AWS::ApiGatewayV2::Stage');
    expect(stages).toHaveLength(1);
    const stage = stages[0]![1].Properties as Json;
    expect(stage.StageName).toBe('$default');
    expect(stage.AutoDeploy).toBe(true);
    expect(stage.AccessLogSettings.DestinationArn).toEqual({ 'Fn::GetAtt': [logicalId(stack.api.accessLogs), 'Arn'] });
    const format = JSON.parse(stage.AccessLogSettings.Format as string) as Record<string, string>;
    expect(format.requestId).toBe('$context.requestId');
    expect(Object.values(format)).not.toContain('$context.path');
  });

  it('Calendly\'s webhook route has its own, higher throttle (and detailed metrics); every user route gets the lower default', () => {
    const [, stageRes] = ofType('AWS::ApiGatewayV2::Stage')[0]!;
    const stage = stageRes.Properties as Json;
    const webhookKeys = ROUTES.filter((r) => r.handler === 'webhook').map((r) => `${r.method} ${r.path}`);
    expect(webhookKeys).toHaveLength(1);
    expect(stage.DefaultRouteSettings).toEqual({ ThrottlingRateLimit: THROTTLES.userRoutes.rateLimit, ThrottlingBurstLimit: THROTTLES.userRoutes.burstLimit });
    // Only the webhook route overrides the default: every JWT route falls under it.
    expect(Object.keys(stage.RouteSettings as Json)).toEqual(webhookKeys);
    expect(stage.RouteSettings[webhookKeys[0]!]).toEqual({
      ThrottlingRateLimit: THROTTLES.webhook.rateLimit,
      ThrottlingBurstLimit: THROTTLES.webhook.burstLimit,
      DetailedMetricsEnabled: true,
    });
    expect(THROTTLES.webhook.rateLimit).toBeGreaterThan(THROTTLES.userRoutes.rateLimit);
    expect(THROTTLES.webhook.burstLimit).toBeGreaterThan(THROTTLES.userRoutes.burstLimit);
    // The setting names a route key that must exist first, or CloudFormation fails the stage.
    const routeIds = ofType('AWS::ApiGatewayV2::Route').filter(([, r]) => webhookKeys.includes(r.Properties.RouteKey)).map(([id]) => id);
    expect(stageRes.DependsOn).toEqual(expect.arrayContaining(routeIds));
  });

  it('the API resource depends on no function (its URL is the functions\' PUBLIC_BASE_URL)', () => {
    const [apiId, api] = ofType('AWS::ApiGatewayV2::Api')[0]!;
    expect(api.DependsOn).toBeUndefined();
    expect(JSON.stringify(api.Properties)).not.toContain('Function');
    for (const name of ALL_LAMBDAS) expect(fnProps(name).Environment.Variables.PUBLIC_BASE_URL).toEqual({ 'Fn::GetAtt': [apiId, 'ApiEndpoint'] });
  });

  it('CORS comes from the AllowedOrigins parameter: empty = none, else those origins with Authorization and Content-Type', () => {
    const params = template.toJSON().Parameters as Json;
    expect(params.AllowedOrigins).toMatchObject({ Type: 'CommaDelimitedList', Default: '' });
    const [, api] = ofType('AWS::ApiGatewayV2::Api')[0]!;
    const cors = api.Properties.CorsConfiguration;
    expect(resolveWith({}, cors)).toBeUndefined();
    expect(resolveWith({ AllowedOrigins: '' }, cors)).toBeUndefined();
    expect(resolveWith({ AllowedOrigins: 'https://app.example.com, https://admin.example.com' }, cors)).toEqual({
      AllowOrigins: ['https://app.example.com', 'https://admin.example.com'],
      AllowMethods: ['GET', 'POST', 'DELETE'],
      AllowHeaders: ['authorization', 'content-type'],
      MaxAge: 3600,
    });
  });

  it('route scopes come from the jwtScopes context and apply to JWT routes only', () => {
    const routes = Object.values(variantResources())
      .filter((r) => r.Type === 'AWS::ApiGatewayV2::Route')
      .map((r) => r.Properties as Json);
    for (const r of routes) {
      const def = ROUTES.find((d) => `${d.method} ${d.path}` === r.RouteKey)!;
      expect(r.AuthorizationScopes).toEqual(def.auth ? ['calendly:connect', 'calendly:read'] : undefined);
    }
  }, 60_000);
});

describe('Lambda functions', () => {
  it('one per handler, arm64, nodejs24.x, ESM index.handler, settings and a log group with retention', () => {
    expect(ofType('AWS::Lambda::Function')).toHaveLength(ALL_LAMBDAS.length);
    for (const name of ALL_LAMBDAS) {
      const p = fnProps(name);
      expect(p.Runtime).toBe('nodejs24.x');
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.Handler).toBe('index.handler');
      expect(p.MemorySize).toBe(FUNCTION_SETTINGS[name].memorySize);
      expect(p.Timeout).toBe(FUNCTION_SETTINGS[name].timeout.toSeconds());
      const logGroupId = logicalId(stack.functions[name].logGroup);
      expect(p.LoggingConfig.LogGroup).toEqual({ Ref: logGroupId });
      expect(resources[logGroupId]!.Properties.RetentionInDays).toBe(30);
    }
    // HTTP handlers answer within API Gateway's 30 s; the webhook within Calendly's 15 s.
    expect(FUNCTION_SETTINGS.webhook.timeout.toSeconds()).toBeLessThan(15);
    for (const r of ROUTES) expect(FUNCTION_SETTINGS[r.handler].timeout.toSeconds()).toBeLessThan(30);
  });

  it('the Node major the CI tests the handlers on (scripts/node24.sh) is the Lambda runtime\'s', async () => {
    const { readFile } = await import('node:fs/promises');
    const script = await readFile(new URL('../../scripts/node24.sh', import.meta.url), 'utf8');
    const major = /^MAJOR=(\d+)$/m.exec(script)?.[1];
    expect(LAMBDA_RUNTIME.name).toBe(`nodejs${major}.x`);
    for (const name of ALL_LAMBDAS) expect(fnProps(name).Runtime).toBe(LAMBDA_RUNTIME.name);
  });

  it('environment: Powertools and service settings for all; table, queue and secret variables only where granted', () => {
    const common = {
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      APP_REDIRECT_URL: { Ref: 'AppRedirectUrl' },
      CALENDLY_AUTH_URL: 'https://auth.calendly.com',
      CALENDLY_API_URL: 'https://api.calendly.com',
      WEBHOOK_TOLERANCE_SECONDS: '90000',
      NODE_OPTIONS: '--enable-source-maps',
    };
    for (const name of ALL_LAMBDAS) {
      const env = fnProps(name).Environment.Variables as Json;
      const access = ACCESS[name];
      expect(env, name).toMatchObject(common);
      const expected: Json = {};
      for (const key of Object.keys(access.tables) as TableKey[]) expected[TABLES[key].envVar] = { Ref: tableLogicalId(key) };
      for (const q of access.sends) expected[q === 'sync' ? 'SYNC_QUEUE_URL' : 'HEALTH_QUEUE_URL'] = { Ref: queueLogicalId(q) };
      if (access.secret) expected.APP_SECRET_ARN = { Ref: logicalId(stack.appSecret) };
      if (access.secret) expected.TOKEN_KEYRING_ARN = { Ref: logicalId(stack.tokenKeyring) };
      if (access.publishes) expected.EVENT_BUS_NAME = { Ref: busLogicalId() };
      if (name === 'health-scheduler' || name === 'health-worker') expected.HEALTH_CHECK_INTERVAL_SECONDS = '900';
      if (name === 'health-worker') expected.RECONCILE_INTERVAL_SECONDS = '86400';
      // The queue's redrive maxReceiveCount, as the sync worker must know its last try.
      if (name === 'sync-worker') expected.SYNC_QUEUE_MAX_RECEIVE_COUNT = String(fnQueueMaxReceive('sync'));
      const specific = Object.fromEntries(Object.entries(env).filter(([k]) => !(k in common) && k !== 'PUBLIC_BASE_URL'));
      expect(specific, name).toEqual(expected);
    }
  });
});

describe('DynamoDB tables', () => {
  it('one GlobalTable per definition: keys, GSIs, TTL, on-demand, PITR; retain + deletion protection for data', () => {
    expect(ofType('AWS::DynamoDB::GlobalTable')).toHaveLength(ALL_TABLES.length);
    for (const [key, def] of Object.entries(TABLES) as [TableKey, TableDef][]) {
      const res = resources[tableLogicalId(key)]!;
      const p = res.Properties as Json;
      const keySchema: Json[] = [{ AttributeName: def.partitionKey.name, KeyType: 'HASH' }];
      if (def.sortKey) keySchema.push({ AttributeName: def.sortKey.name, KeyType: 'RANGE' });
      expect(p.KeySchema, def.id).toEqual(keySchema);
      expect(p.BillingMode).toBe('PAY_PER_REQUEST');
      expect((p.GlobalSecondaryIndexes ?? []).map((g: Json) => ({ name: g.IndexName, keys: g.KeySchema }))).toEqual(
        def.indexes.map((ix) => ({
          name: ix.indexName,
          keys: [{ AttributeName: ix.partitionKey.name, KeyType: 'HASH' }, ...(ix.sortKey ? [{ AttributeName: ix.sortKey.name, KeyType: 'RANGE' }] : [])],
        })),
      );
      const attrTypes = Object.fromEntries((p.AttributeDefinitions as Json[]).map((a) => [a.AttributeName, a.AttributeType]));
      for (const k of [def.partitionKey, ...(def.sortKey ? [def.sortKey] : []), ...def.indexes.flatMap((ix) => [ix.partitionKey, ...(ix.sortKey ? [ix.sortKey] : [])])]) {
        expect(attrTypes[k.name], `${def.id}.${k.name}`).toBe(k.type);
      }
      expect(p.TimeToLiveSpecification).toEqual(def.ttlAttribute ? { AttributeName: def.ttlAttribute, Enabled: true } : undefined);
      const replica = (p.Replicas as Json[])[0]!;
      expect(replica.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(replica.DeletionProtectionEnabled, def.id).toBe(def.retain);
      expect(res.DeletionPolicy, def.id).toBe(def.retain ? 'Retain' : 'Delete');
      expect(res.UpdateReplacePolicy, def.id).toBe(def.retain ? 'Retain' : 'Delete');
    }
  });
});

describe('SQS queues and event sources', () => {
  it('sync and health queues: DLQ after 5 receives, visibility ≥ 6x the worker timeout, SSE, TLS only', () => {
    const consumers: Record<QueueName, LambdaName> = { sync: 'sync-worker', health: 'health-worker' };
    for (const q of ['sync', 'health'] as const) {
      const p = resources[queueLogicalId(q)]!.Properties as Json;
      expect(p.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [logicalId(stack.queues[q].deadLetterQueue), 'Arn'] }, maxReceiveCount: 5 });
      expect(p.VisibilityTimeout).toBeGreaterThanOrEqual(6 * FUNCTION_SETTINGS[consumers[q]].timeout.toSeconds());
      expect(p.SqsManagedSseEnabled).toBe(true);
      const dlq = resources[logicalId(stack.queues[q].deadLetterQueue)]!.Properties as Json;
      expect(dlq.MessageRetentionPeriod).toBe(14 * 24 * 3600);
      expect(dlq.SqsManagedSseEnabled).toBe(true);
    }
    const queues = ofType('AWS::SQS::Queue');
    expect(queues).toHaveLength(5); // 2 work queues, their DLQs, the schedule's DLQ
    for (const [id] of queues) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('event source mappings report batch item failures and cap concurrency', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping').map(([, m]) => m.Properties as Json);
    expect(mappings).toHaveLength(2);
    const expectations = [
      { fn: 'sync-worker' as const, q: 'sync' as const, batch: 1 },
      { fn: 'health-worker' as const, q: 'health' as const, batch: 5 },
    ];
    for (const e of expectations) {
      const m = mappings.find((x) => x.FunctionName.Ref === fnLogicalId(e.fn))!;
      expect(m.EventSourceArn).toEqual({ 'Fn::GetAtt': [queueLogicalId(e.q), 'Arn'] });
      expect(m.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
      expect(m.ScalingConfig).toEqual({ MaximumConcurrency: 5 });
      expect(m.BatchSize).toBe(e.batch);
    }
  });
});

describe('health schedule', () => {
  it('EventBridge Scheduler (no Events rule) invokes health-scheduler with the health-tick input, retries, DLQ', () => {
    expect(ofType('AWS::Events::Rule')).toHaveLength(0);
    const schedules = ofType('AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(1);
    const p = schedules[0]![1].Properties as Json;
    expect(p.ScheduleExpression).toBe('rate(15 minutes)');
    expect(p.Target.Arn).toEqual({ 'Fn::GetAtt': [fnLogicalId('health-scheduler'), 'Arn'] });
    expect(JSON.parse(p.Target.Input as string)).toEqual({ kind: 'health-tick' });
    expect(p.Target.RetryPolicy).toEqual({ MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 900 });
    const dlqId = (p.Target.DeadLetterConfig.Arn['Fn::GetAtt'] as string[])[0]!;
    expect(resources[dlqId]!.Type).toBe('AWS::SQS::Queue');
    expect(Object.values(resources).some((r) => JSON.stringify(r.Properties?.RedrivePolicy ?? {}).includes(`"${dlqId}"`))).toBe(false);
  });

  it('a tick whose function run fails lands in the same DLQ after Lambda\'s retries', () => {
    const configs = ofType('AWS::Lambda::EventInvokeConfig').map(([, c]) => c.Properties as Json);
    expect(configs).toHaveLength(1);
    expect(configs[0]).toMatchObject({
      FunctionName: { Ref: fnLogicalId('health-scheduler') },
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 900,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [schedulesDlq(), 'Arn'] } } },
    });
  });

  it('the schedule role may invoke only the health-scheduler function and send to its DLQ', () => {
    const roleId = (schedulesRole() as string[])[0]!;
    const role = resources[roleId]!.Properties as Json;
    expect(role.AssumeRolePolicyDocument.Statement[0].Principal).toEqual({ Service: 'scheduler.amazonaws.com' });
    const stmts = statementsOf(roleId);
    const actions = stmts.flatMap((s) => asList(s.Action as string)).sort();
    expect(actions).toEqual(['lambda:InvokeFunction', 'sqs:SendMessage']);
    const invoke = stmts.find((s) => asList(s.Action).includes('lambda:InvokeFunction'))!;
    for (const r of asList(invoke.Resource)) expect(JSON.stringify(r)).toContain(`"${fnLogicalId('health-scheduler')}"`);
  });
});
function schedulesRole() {
  return (ofType('AWS::Scheduler::Schedule')[0]![1].Properties as Json).Target.RoleArn['Fn::GetAtt'];
}

describe('IAM: least privilege per function', () => {
  const roleId = (name: LambdaName) => logicalId(stack.functions[name].role);

  /** Names the resource a policy statement's Resource expression points at. */
  function resourceName(r: unknown): string {
    const j = JSON.stringify(r);
    for (const key of Object.keys(TABLES) as TableKey[]) {
      const id = tableLogicalId(key);
      if (j === JSON.stringify({ 'Fn::GetAtt': [id, 'Arn'] })) return `table:${key}`;
      const ix = /^\{"Fn::Join":\["",\[\{"Fn::GetAtt":\["([^"]+)","Arn"\]\},"\/index\/([^"*]+)"\]\]\}$/.exec(j);
      if (ix && ix[1] === id) return `index:${key}/${ix[2]}`;
    }
    for (const q of ['sync', 'health'] as const) if (j === JSON.stringify({ 'Fn::GetAtt': [queueLogicalId(q), 'Arn'] })) return `queue:${q}`;
    if (j === JSON.stringify({ Ref: logicalId(stack.appSecret) })) return 'secret';
    if (j === JSON.stringify({ Ref: logicalId(stack.tokenKeyring) })) return 'keyring';
    if (j === JSON.stringify({ 'Fn::GetAtt': [busLogicalId(), 'Arn'] })) return 'bus:meetingEvents';
    if (j === JSON.stringify({ 'Fn::GetAtt': [schedulesDlq(), 'Arn'] })) return 'queue:healthScheduleDlq';
    for (const name of ALL_LAMBDAS) if (j === JSON.stringify({ 'Fn::GetAtt': [logicalId(stack.functions[name].logGroup), 'Arn'] })) return `logs:${name}`;
    return `unknown:${j}`;
  }
  /** Every (action, resource) pair the role's policies allow, as "action resource" strings. */
  function allowed(name: LambdaName): string[] {
    const out = new Set<string>();
    for (const st of statementsOf(roleId(name))) {
      expect(st.Effect).toBe('Allow');
      expect(st.Condition, name).toBeUndefined();
      for (const a of asList(st.Action as string)) for (const r of asList(st.Resource)) out.add(`${a} ${resourceName(r)}`);
    }
    return [...out].sort();
  }
  /** What lib/permissions.ts says, plus what is not the handler's code: its log group and the event source's poller. */
  function expected(name: LambdaName): string[] {
    const out = permissionsOf(name).map((p) =>
      p.service === 'dynamodb' ? `${p.action} ${p.index ? `index:${p.table}/${p.index}` : `table:${p.table}`}` : p.service === 'sqs' ? `${p.action} queue:${p.queue}` : p.service === 'events' ? `${p.action} bus:meetingEvents` : `${p.action} secret`,
    );
    // Whoever reads the app secret seals or opens secrets at rest: it reads the keyring too.
    if (ACCESS[name].secret) out.push('secretsmanager:GetSecretValue keyring');
    for (const a of ['logs:CreateLogStream', 'logs:PutLogEvents']) out.push(`${a} logs:${name}`);
    const consumed = ACCESS[name].consumes;
    if (consumed) for (const a of EVENT_SOURCE_ACTIONS) out.push(`${a} queue:${consumed}`);
    if (name === 'health-scheduler') for (const a of ASYNC_FAILURE_DESTINATION_ACTIONS) out.push(`${a} queue:healthScheduleDlq`);
    return [...new Set(out)].sort();
  }

  it('each role allows exactly its row of lib/permissions.ts, its own log group and what Lambda does for it (event source, failure destination): nothing else', () => {
    for (const name of ALL_LAMBDAS) expect(allowed(name), name).toEqual(expected(name));
  });

  it('no managed policies, no wildcard in any action or resource of a function role', () => {
    for (const name of ALL_LAMBDAS) expect(resources[roleId(name)]!.Properties.ManagedPolicyArns, name).toBeUndefined();
    for (const name of ALL_LAMBDAS) for (const st of statementsOf(roleId(name))) expect(JSON.stringify([st.Action, st.Resource]), name).not.toContain('*');
    for (const [, role] of ofType('AWS::IAM::Role')) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('what the review found too wide is gone: no Scan, streams, index/* or ConditionCheckItem; the health scheduler cannot write', () => {
    const all = ALL_LAMBDAS.flatMap((n) => allowed(n).map((x) => `${n} ${x}`));
    for (const banned of ['dynamodb:Scan', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:DescribeStream', 'dynamodb:ListStreams', 'dynamodb:ConditionCheckItem', 'dynamodb:DescribeTable', 'secretsmanager:DescribeSecret']) {
      expect(all.filter((x) => x.includes(`${banned} `)), banned).toEqual([]);
    }
    expect(allowed('health-scheduler').filter((x) => x.startsWith('dynamodb:'))).toEqual(['dynamodb:Query index:connections/byCheckDue']);
    // The meetings Lambda reads the caller's connection status (a disconnected user's meetings are
    // not served) and queries: its two indexes, and the table's own range of one event; a status
    // page reads its meetings' invitees by key.
    expect(allowed('meetings').filter((x) => x.startsWith('dynamodb:'))).toEqual([
      'dynamodb:BatchGetItem table:meetings',
      'dynamodb:GetItem table:connections',
      'dynamodb:Query index:meetings/byStartTime',
      'dynamodb:Query index:meetings/byStatus',
      'dynamodb:Query table:meetings',
    ]);
    // The webhook never replays parked bodies, and never sees OAuth states or sync state.
    const webhook = allowed('webhook');
    expect(webhook.filter((x) => / table:(oauthStates|syncState)$/.test(x))).toEqual([]);
    expect(webhook.filter((x) => x.endsWith('table:parkedWebhooks'))).toEqual(['dynamodb:PutItem table:parkedWebhooks']);
  });

  it('every table, queue URL and the secret ARN reach a function\'s environment only with a permission on it', () => {
    for (const name of ALL_LAMBDAS) {
      const env = JSON.stringify(fnProps(name).Environment.Variables);
      for (const key of Object.keys(TABLES) as TableKey[]) expect(env.includes(`"${tableLogicalId(key)}"`), `${name} ${key}`).toBe(key in ACCESS[name].tables);
      for (const q of ['sync', 'health'] as const) expect(env.includes(`"${queueLogicalId(q)}"`), `${name} ${q}`).toBe(ACCESS[name].sends.includes(q));
      expect(env.includes(`"${logicalId(stack.appSecret)}"`), `${name} secret`).toBe(ACCESS[name].secret);
      expect(env.includes(`"${logicalId(stack.tokenKeyring)}"`), `${name} keyring`).toBe(ACCESS[name].secret);
    }
  });
});

describe('token keyring: a value no template change regenerates', () => {
  // CloudFormation generates a secret's value again when its GenerateSecretString changes. Both
  // templates are frozen here, literally: the keyring's (a new value = every stored token and
  // signing key unreadable) and the app secret's (a new value = the Calendly credentials the
  // operator filled in are gone, and with them the key that opens `v1` values). Changing either
  // literal below is the decision to lose that data.
  const FROZEN = {
    keyring: { SecretStringTemplate: '{"current":"k1"}', GenerateStringKey: 'k1', PasswordLength: 43, ExcludePunctuation: true, IncludeSpace: false },
    app: { SecretStringTemplate: '{"clientId":"","clientSecret":"","webhookSigningKey":""}', GenerateStringKey: 'tokenEncryptionKey', PasswordLength: 43, ExcludePunctuation: true, IncludeSpace: false },
  };

  it('both secrets keep their generated-string templates exactly, and survive stack deletion and replacement', () => {
    expect(ofType('AWS::SecretsManager::Secret')).toHaveLength(2);
    for (const [which, el] of [['keyring', stack.tokenKeyring], ['app', stack.appSecret]] as const) {
      const r = resources[logicalId(el)]!;
      expect(r.Properties.GenerateSecretString, which).toEqual(FROZEN[which]);
      expect([r.DeletionPolicy, r.UpdateReplacePolicy], which).toEqual(['Retain', 'Retain']);
    }
  });

  it('its first value is a keyring the code opens, given to every function that seals, and an output for the rotation command', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    const generated = Array.from({ length: 43 }, (_, i) => alphabet[(i * 17 + 3) % alphabet.length]).join('');
    const first = parseKeyring(JSON.stringify({ ...JSON.parse(FROZEN.keyring.SecretStringTemplate), [FROZEN.keyring.GenerateStringKey]: generated }));
    expect(first.current).toBe('k1');
    expect(first.keys[0]!.key).toHaveLength(32);
    for (const name of ALL_LAMBDAS) {
      const env = fnProps(name).Environment.Variables as Json;
      expect(env.TOKEN_KEYRING_ARN, name).toEqual(ACCESS[name].secret ? { Ref: logicalId(stack.tokenKeyring) } : undefined);
    }
    expect((template.toJSON().Outputs as Json).TokenKeyringArn.Value).toEqual({ Ref: logicalId(stack.tokenKeyring) });
  });
});

describe('app secret', () => {
  it('is generated with a 32-byte token key the code accepts, placeholders for the Calendly values, and retained', () => {
    const secret = resources[logicalId(stack.appSecret)]!;
    expect(secret.DeletionPolicy).toBe('Retain');
    const gen = secret.Properties.GenerateSecretString as Json;
    expect(gen).toMatchObject({ GenerateStringKey: 'tokenEncryptionKey', PasswordLength: 43, ExcludePunctuation: true, IncludeSpace: false });
    expect(JSON.parse(gen.SecretStringTemplate as string)).toEqual({ clientId: '', clientSecret: '', webhookSigningKey: '' });
    // What Secrets Manager can generate with those settings: 43 of [A-Za-z0-9].
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    for (const seed of [0, 7, 61]) {
      const key = Array.from({ length: 43 }, (_, i) => alphabet[(i * 31 + seed) % alphabet.length]).join('');
      expect(parseEncryptionKey(key)).toHaveLength(32);
    }
  });
});

describe('alarms, their topic and the dashboard', () => {
  const alarms = () => ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties as Json);
  const topicId = () => logicalId(stack.monitoring.topic);
  const customAlarms = (metricName: string) => alarms().filter((a) => a.Namespace === METRICS_NAMESPACE && a.MetricName === metricName);

  it('every alarm notifies the stack\'s topic, when it fires and when it clears, and treats missing data as fine', () => {
    expect(alarms().length).toBeGreaterThan(0);
    for (const a of alarms()) {
      expect(a.AlarmActions, a.AlarmDescription).toEqual([{ Ref: topicId() }]);
      expect(a.OKActions, a.AlarmDescription).toEqual([{ Ref: topicId() }]);
      expect(a.TreatMissingData).toBe('notBreaching');
      expect(a.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
    }
  });

  it('the topic is encrypted with a rotated key CloudWatch may use, refuses plain HTTP, and has an e-mail subscription only when AlarmEmail is set', () => {
    const topic = resources[topicId()]!.Properties as Json;
    const keyId = logicalId(stack.monitoring.topicKey);
    expect(topic.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    const key = resources[keyId]!.Properties as Json;
    expect(key.EnableKeyRotation).toBe(true);
    // Nothing outlives the stack that this key would unlock: deleted with it (after 7 days).
    expect(resources[keyId]!.DeletionPolicy).toBe('Delete');
    expect(key.PendingWindowInDays).toBe(7);
    expect(key.KeyPolicy.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Effect: 'Allow' }),
      ]),
    );
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId() }],
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    const subs = ofType('AWS::SNS::Subscription');
    expect(subs).toHaveLength(1);
    const [, sub] = subs[0]!;
    expect(sub.Properties).toEqual({ Protocol: 'email', Endpoint: { Ref: 'AlarmEmail' }, TopicArn: { Ref: topicId() } });
    expect((template.toJSON().Parameters as Json).AlarmEmail).toMatchObject({ Type: 'String', Default: '' });
    const exists = (AlarmEmail: string) => resolveWith({ AlarmEmail }, { Condition: sub.Condition });
    expect(exists('')).toBe(false);
    expect(exists('ops@example.com')).toBe(true);
    const pattern = new RegExp((template.toJSON().Parameters as Json).AlarmEmail.AllowedPattern as string);
    expect(pattern.test('')).toBe(true);
    expect(pattern.test('ops@example.com')).toBe(true);
    expect(pattern.test('not an address')).toBe(false);
  });

  it('the API\'s 5xx as API Gateway counts them', () => {
    const [apiId] = ofType('AWS::ApiGatewayV2::Api')[0]!;
    const a = alarms().filter((x) => x.Namespace === 'AWS/ApiGateway');
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ MetricName: '5xx', Dimensions: [{ Name: 'ApiId', Value: { Ref: apiId } }], Statistic: 'Sum', Period: 300, Threshold: ALARM_RULES.api5xx.threshold });
  });

  it('handled failures: one alarm per function on HandledFailures {service, function}; workers (retried by SQS) less eager', () => {
    const a = customAlarms(CUSTOM_METRICS.handledFailures.name);
    expect(a).toHaveLength(ALL_LAMBDAS.length);
    for (const name of ALL_LAMBDAS) {
      const mine = a.filter((x) => JSON.stringify(x.Dimensions) === JSON.stringify([{ Name: FUNCTION_DIMENSION, Value: name }, { Name: 'service', Value: SERVICE_NAME }]));
      expect(mine, name).toHaveLength(1);
      const worker = (BACKGROUND_HANDLERS as readonly string[]).includes(name);
      const rule = worker ? ALARM_RULES.handledFailuresWorker : ALARM_RULES.handledFailuresHttp;
      expect(mine[0], name).toMatchObject({ Statistic: 'Sum', Period: rule.period.toSeconds(), Threshold: rule.threshold });
    }
    expect(CUSTOM_METRICS.handledFailures.dimensions).toEqual(['service', FUNCTION_DIMENSION]);
  });

  it('unhandled Lambda errors, per function', () => {
    for (const name of ALL_LAMBDAS) {
      const a = alarms().filter((x) => x.MetricName === 'Errors' && x.Namespace === 'AWS/Lambda' && JSON.stringify(x.Dimensions).includes(`"${fnLogicalId(name)}"`));
      expect(a, name).toHaveLength(1);
    }
  });

  it('the oldest message on each work queue, and any message in each DLQ', () => {
    const age = alarms().filter((a) => a.MetricName === 'ApproximateAgeOfOldestMessage');
    expect(age).toHaveLength(2);
    for (const q of ['sync', 'health'] as const) {
      const a = age.find((x) => JSON.stringify(x.Dimensions).includes(`"${queueLogicalId(q)}"`))!;
      expect(a, q).toBeDefined();
      expect(a.Statistic).toBe('Maximum');
      // Longer than a failed record's way back (visibility timeout), shorter than its way to the DLQ.
      const visibility = resources[queueLogicalId(q)]!.Properties.VisibilityTimeout as number;
      expect(a.Threshold).toBeGreaterThan(visibility);
      expect(a.Threshold).toBeLessThan(5 * visibility + 15 * 60);
    }
    const dlqIds = [logicalId(stack.queues.sync.deadLetterQueue), logicalId(stack.queues.health.deadLetterQueue), schedulesDlq() as string];
    const depth = alarms().filter((a) => a.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(depth).toHaveLength(dlqIds.length);
    for (const dlq of dlqIds) expect(depth.some((a) => JSON.stringify(a.Dimensions).includes(`"${dlq}"`) && a.Threshold === 1), dlq).toBe(true);
  });

  it('parked webhooks and given-up syncs on their first occurrence', () => {
    for (const m of [CUSTOM_METRICS.parkedWebhooks, CUSTOM_METRICS.syncRunsGivenUp]) {
      const a = customAlarms(m.name);
      expect(a, m.name).toHaveLength(1);
      expect(a[0]).toMatchObject({ Dimensions: [{ Name: 'service', Value: SERVICE_NAME }], Statistic: 'Sum', Threshold: 1 });
    }
  });

  it('ConnectionsAuthorizationRequired: a count per hour against the AuthorizationRequiredAlarmThreshold parameter (default 10)', () => {
    const a = customAlarms(CUSTOM_METRICS.connectionsAuthorizationRequired.name);
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ Dimensions: [{ Name: 'service', Value: SERVICE_NAME }], Statistic: 'Sum', Period: 3600, Threshold: { Ref: 'AuthorizationRequiredAlarmThreshold' } });
    expect((template.toJSON().Parameters as Json).AuthorizationRequiredAlarmThreshold).toMatchObject({ Type: 'Number', Default: 10, MinValue: 1 });
  });

  it('no alarm watches a custom metric outside the contract of lib/metrics.ts', () => {
    const known = new Map(Object.values(CUSTOM_METRICS).map((m) => [m.name, [...m.dimensions].sort()]));
    for (const a of alarms().filter((x) => x.Namespace === METRICS_NAMESPACE)) {
      expect(known.has(a.MetricName), a.MetricName).toBe(true);
      expect((a.Dimensions as Json[]).map((d) => d.Name).sort(), a.MetricName).toEqual(known.get(a.MetricName));
    }
    expect(alarms()).toHaveLength(3 + 2 + 2 * ALL_LAMBDAS.length + 1 + 4);
  });

  it('a dashboard of the flows: API 4xx/5xx, deliveries, syncs, health checks, errors per function, queue ages, alarms', () => {
    const dashboards = ofType('AWS::CloudWatch::Dashboard');
    expect(dashboards).toHaveLength(1);
    const [, d] = dashboards[0]!;
    expect(d.Properties.DashboardName).toBeUndefined();
    const body = JSON.stringify(d.Properties.DashboardBody);
    for (const title of ['API requests, 4xx, 5xx', 'Webhook deliveries (Calendly)', 'Syncs', 'Health checks', 'Queues: age of oldest message (s)', 'Handled failures per function', 'Lambda errors and throttles', 'Alarms']) {
      expect(body, title).toContain(title);
    }
    for (const m of Object.values(CUSTOM_METRICS)) expect(body, m.name).toContain(m.name);
    for (const q of ['sync', 'health'] as const) expect(body).toContain(`"${queueLogicalId(q)}"`);
    expect(body).toContain('webhooks calendly');
  });

  it('outputs the API URL, the OAuth redirect URI and webhook base to register at Calendly, and the secret ARN', () => {
    const outputs = template.toJSON().Outputs as Json;
    const [apiId] = ofType('AWS::ApiGatewayV2::Api')[0]!;
    const endpoint = { 'Fn::GetAtt': [apiId, 'ApiEndpoint'] };
    expect(outputs.ApiUrl.Value).toEqual(endpoint);
    expect(outputs.OAuthRedirectUri.Value).toEqual({ 'Fn::Join': ['', [endpoint, '/oauth/calendly/callback']] });
    expect(outputs.WebhookBaseUrl.Value).toEqual({ 'Fn::Join': ['', [endpoint, '/webhooks/calendly/']] });
    expect(outputs.AppSecretArn.Value).toEqual({ Ref: logicalId(stack.appSecret) });
    expect(outputs.AlarmTopicArn.Value).toEqual({ Ref: logicalId(stack.monitoring.topic) });
    expect(outputs.DashboardName.Value).toEqual({ Ref: logicalId(stack.monitoring.dashboard) });
  });
});
describe('Meeting Changed events: the bus, its archive, who may publish, the unpublished alarm', () => {
  const publishers = ALL_LAMBDAS.filter((n) => ACCESS[n].publishes);
  const alarms = () => ofType('AWS::CloudWatch::Alarm').map(([, a]) => a.Properties as Json);

  it('one event bus named after the stack, and an archive of its Meeting Changed events kept EventArchiveRetentionDays (default 30)', () => {
    expect(ofType('AWS::Events::EventBus')).toHaveLength(1);
    expect(resources[busLogicalId()]!.Properties.Name).toEqual({ 'Fn::Join': ['-', [{ Ref: 'AWS::StackName' }, 'meeting-events']] });
    const archives = ofType('AWS::Events::Archive');
    expect(archives).toHaveLength(1);
    const p = archives[0]![1].Properties as Json;
    expect(p.SourceArn).toEqual({ 'Fn::GetAtt': [busLogicalId(), 'Arn'] });
    expect(p.EventPattern).toEqual({ source: ['calendly-connector'], 'detail-type': ['Meeting Changed'] });
    expect(p.RetentionDays).toEqual({ Ref: 'EventArchiveRetentionDays' });
    expect((template.toJSON().Parameters as Json).EventArchiveRetentionDays).toMatchObject({ Type: 'Number', Default: 30, MinValue: 0 });
    expect(resolveWith({ EventArchiveRetentionDays: '90' }, p.RetentionDays)).toBe('90');
    // The stack routes nothing itself: rules belong to the host app.
    expect(ofType('AWS::Events::Rule')).toEqual([]);
  });

  it('webhook, sync-worker and health-worker (the sweep) may put events on that bus only; no one else may', () => {
    expect(publishers).toEqual(['webhook', 'sync-worker', 'health-worker']);
    for (const name of ALL_LAMBDAS) {
      const puts = statementsOf(logicalId(stack.functions[name].role)).filter((st) => asList(st.Action as string).some((a) => a.startsWith('events:')));
      if (!publishers.includes(name)) {
        expect(puts, name).toEqual([]);
        continue;
      }
      expect(puts.map((st) => [st.Action, st.Resource]), name).toEqual([['events:PutEvents', { 'Fn::GetAtt': [busLogicalId(), 'Arn'] }]]);
    }
  });

  it('MeetingEventsUnpublished {service} fires on the first event left pending, and the dashboard graphs it', () => {
    const a = alarms().filter((x) => x.Namespace === METRICS_NAMESPACE && x.MetricName === 'MeetingEventsUnpublished');
    expect(a).toHaveLength(1);
    expect(a[0]).toMatchObject({ Dimensions: [{ Name: 'service', Value: SERVICE_NAME }], Statistic: 'Sum', Period: 300, Threshold: 1 });
    expect(CUSTOM_METRICS.meetingEventsUnpublished.emittedBy).toEqual(publishers);
  });

  it('outputs the bus name and ARN (for the host app\'s rules) and the archive ARN (for replays)', () => {
    const outputs = template.toJSON().Outputs as Json;
    expect(outputs.EventBusName.Value).toEqual({ Ref: busLogicalId() });
    expect(outputs.EventBusArn.Value).toEqual({ 'Fn::GetAtt': [busLogicalId(), 'Arn'] });
    expect(outputs.EventArchiveArn.Value).toEqual({ 'Fn::GetAtt': [logicalId(stack.meetingEvents.archive), 'Arn'] });
  });
});

function busLogicalId(): string {
  return logicalId(stack.meetingEvents.bus);
}

function schedulesDlq() {
  return (ofType('AWS::Scheduler::Schedule')[0]![1].Properties as Json).Target.DeadLetterConfig.Arn['Fn::GetAtt'][0];
}
