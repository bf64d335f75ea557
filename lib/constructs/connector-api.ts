import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CorsHttpMethod, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES, type HandlerName } from '../../functions/routes.js';

export interface ConnectorApiProps {
  jwtIssuer: string;
  jwtAudience: string[];
  /** Scopes every JWT route requires (empty: any valid token from the issuer for the audience). */
  jwtScopes: string[];
  throttle: { rateLimit: number; burstLimit: number };
  /** Browser origins of the SaaS app allowed to call the API (CORS); empty: no CORS (server-to-server). */
  corsAllowOrigins: string[];
  logRetention: RetentionDays;
}

/** Why a route is reachable without a JWT: what protects it instead. */
const UNAUTHENTICATED_ROUTE_REASON: Record<string, string> = {
  'oauth-callback': 'Browser redirect from Calendly: protected by the single-use OAuth state (with PKCE) minted for the signed-in user; a JWT cannot be attached to a redirect.',
  webhook: 'Called by Calendly, which cannot send our JWT: every delivery is verified by its HMAC-SHA256 signature (app key or per-hook key) within a time tolerance; unknown hook keys get 410.',
  ping: 'Liveness probe: answers {ok:true} and touches no data.',
};

/**
 * The HTTP API (API Gateway v2). The API resource itself depends on nothing else, so its URL can
 * go into the Lambdas' environment (PUBLIC_BASE_URL) without a dependency cycle: only the routes
 * and integrations, which are created later with `connect`, depend on the functions.
 */
export class ConnectorApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;
  private readonly authorizer: HttpJwtAuthorizer;
  private readonly props: ConnectorApiProps;

  constructor(scope: Construct, id: string, props: ConnectorApiProps) {
    super(scope, id);
    this.props = props;
    this.api = new HttpApi(this, 'HttpApi', {
      description: 'Calendly connector: connections, meetings, OAuth callback, webhook ingest',
      createDefaultStage: false,
      // API Gateway answers preflights itself (no authorizer, no Lambda).
      ...(props.corsAllowOrigins.length
        ? {
            corsPreflight: {
              allowOrigins: props.corsAllowOrigins,
              allowMethods: [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.DELETE],
              allowHeaders: ['authorization', 'content-type'],
              maxAge: Duration.hours(1),
            },
          }
        : {}),
    });
    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        // routeKey, never path or query: the path carries the webhook's hook key and the
        // callback's query carries the OAuth code and state.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            requestTime: '$context.requestTime',
            ip: '$context.identity.sourceIp',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            latencyMs: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });
    this.authorizer = new HttpJwtAuthorizer('JwtAuthorizer', props.jwtIssuer, {
      jwtAudience: props.jwtAudience,
      identitySource: ['$request.header.Authorization'],
    });
  }

  /** Base URL of the API (no trailing slash), e.g. https://abc123.execute-api.eu-west-1.amazonaws.com */
  get endpoint(): string {
    return this.api.apiEndpoint;
  }

  /** Adds every route of functions/routes.ts, each to its handler's function. */
  connect(functions: Record<HandlerName, IFunction>): void {
    const integrations = new Map<HandlerName, HttpLambdaIntegration>();
    for (const route of ROUTES) {
      let integration = integrations.get(route.handler);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${route.handler}-integration`, functions[route.handler]);
        integrations.set(route.handler, integration);
      }
      const [added] = this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration,
        ...(route.auth
          ? { authorizer: this.authorizer, ...(this.props.jwtScopes.length ? { authorizationScopes: this.props.jwtScopes } : {}) }
          : {}),
      });
      if (!route.auth && added) {
        const reason = UNAUTHENTICATED_ROUTE_REASON[route.handler];
        if (!reason) throw new Error(`route ${route.method} ${route.path} has no authorizer and no stated reason`);
        Validations.of(added).acknowledge({ id: 'AwsSolutions-APIG4', reason });
      }
    }
  }
}
