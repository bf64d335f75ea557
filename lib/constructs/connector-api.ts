import { Aws, Duration, Fn, RemovalPolicy, Validations, type CfnCondition } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CfnApi, CfnStage, CorsHttpMethod, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination, type HttpRoute } from 'aws-cdk-lib/aws-apigatewayv2';
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
  /** Every route's limit unless `routeThrottles` names it (API Gateway's default route settings). */
  defaultThrottle: Throttle;
  /** Routes (by handler) with a limit of their own, and with detailed (per-route) metrics. */
  routeThrottles: Partial<Record<HandlerName, Throttle>>;
  /**
   * Browser origins of the SaaS app allowed to call the API (CORS), usually a parameter's list;
   * CORS is configured only where `condition` holds (an empty list means server-to-server, no CORS).
   */
  cors: { allowOrigins: string[]; condition: CfnCondition };
  logRetention: RetentionDays;
}

export interface Throttle {
  /** Steady-state requests per second. */
  rateLimit: number;
  /** Requests API Gateway admits at once above the steady rate. */
  burstLimit: number;
}

/** What a browser on an allowed origin may do: the methods of the user routes, with a bearer token and a JSON body. */
export const CORS_ALLOW_METHODS = [CorsHttpMethod.GET, CorsHttpMethod.POST, CorsHttpMethod.DELETE];
export const CORS_ALLOW_HEADERS = ['authorization', 'content-type'];
export const CORS_MAX_AGE = Duration.hours(1);

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
    });
    // API Gateway answers preflights itself (no authorizer, no Lambda) and adds the CORS headers
    // to every answer for an allowed origin. The origins are a deploy-time list, so whether CORS
    // is configured at all is decided by a condition: API Gateway refuses an empty origin.
    (this.api.node.defaultChild as CfnApi).addPropertyOverride(
      'CorsConfiguration',
      Fn.conditionIf(
        props.cors.condition.logicalId,
        {
          AllowOrigins: props.cors.allowOrigins,
          AllowMethods: CORS_ALLOW_METHODS,
          AllowHeaders: CORS_ALLOW_HEADERS,
          MaxAge: CORS_MAX_AGE.toSeconds(),
        },
        Aws.NO_VALUE,
      ),
    );
    this.accessLogs = new LogGroup(this, 'AccessLogs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.stage = new HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.defaultThrottle,
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
    const routeSettings: Record<string, unknown> = {};
    const throttledRoutes: HttpRoute[] = [];
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
      const own = this.props.routeThrottles[route.handler];
      if (own && added) {
        routeSettings[`${route.method} ${route.path}`] = { ThrottlingRateLimit: own.rateLimit, ThrottlingBurstLimit: own.burstLimit, DetailedMetricsEnabled: true };
        throttledRoutes.push(added);
      }
    }
    if (throttledRoutes.length) {
      // A route setting names its route by key; CloudFormation refuses it before the route exists.
      (this.stage.node.defaultChild as CfnStage).addPropertyOverride('RouteSettings', routeSettings);
      for (const r of throttledRoutes) this.stage.node.addDependency(r);
    }
  }
}
