#!/usr/bin/env node
/**
 * The CDK app: one stack, checked by cdk-nag's AwsSolutions pack on every synth.
 *
 * The stack is environment-agnostic (no `env`): account, region and partition stay
 * `AWS::AccountId` / `AWS::Region` / `AWS::Partition` in the template, so one synthesized
 * template deploys to any account, any region and any partition (aws, aws-cn, aws-us-gov).
 * `cdk deploy` still deploys to the profile's account and region.
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { CalendlyConnectorStack } from '../lib/stack.js';

const app = new App();
new CalendlyConnectorStack(app, String(app.node.tryGetContext('stackName') ?? 'CalendlyConnector'));
Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
