#!/usr/bin/env node
/** The CDK app: one stack, checked by cdk-nag's AwsSolutions pack on every synth. */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CalendlyConnectorStack } from '../lib/stack.js';

const app = new App();
new CalendlyConnectorStack(app, String(app.node.tryGetContext('stackName') ?? 'CalendlyConnector'), {
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
