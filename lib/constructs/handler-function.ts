import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { PROJECT_ROOT, handlerEntry, lambdaBundling, type LambdaName } from '../bundling.js';
import path from 'node:path';

/** The current Node.js Lambda runtime (nodejs20.x is deprecated; cdk-nag L1 wants the newest). */
export const LAMBDA_RUNTIME = Runtime.NODEJS_24_X;

export interface HandlerFunctionProps {
  name: LambdaName;
  memorySize: number;
  timeout: Duration;
  description: string;
  environment: Record<string, string>;
  logRetention: RetentionDays;
}

/**
 * One Lambda per handler file: arm64, the current Node runtime, bundled by local esbuild with
 * the options in lib/bundling.ts. It gets its own role and log group, and the role may write
 * to that log group only (instead of the AWSLambdaBasicExecutionRole managed policy, which
 * allows every log group in the account). Everything else comes from grants in the stack.
 */
export class HandlerFunction extends Construct {
  readonly fn: NodejsFunction;
  readonly role: Role;
  readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: HandlerFunctionProps) {
    super(scope, id);
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY });
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of the ${props.name} handler`,
    });
    this.logGroup.grantWrite(this.role);
    this.fn = new NodejsFunction(this, 'Function', {
      entry: handlerEntry(props.name),
      handler: 'handler',
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: path.join(PROJECT_ROOT, 'package-lock.json'),
      runtime: LAMBDA_RUNTIME,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize,
      timeout: props.timeout,
      description: props.description,
      role: this.role,
      // Referenced by LoggingConfig, so it exists (with its retention) before the function logs.
      logGroup: this.logGroup,
      environment: { ...props.environment, NODE_OPTIONS: '--enable-source-maps' },
      bundling: lambdaBundling(),
    });
  }
}
