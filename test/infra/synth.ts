import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { defineDaysSinceApp } from '../../lib/days-since-app.js';
import type { DaysSinceStack } from '../../lib/stack.js';

/** Context that skips asset bundling: template tests read the template, the bundle check reads the bundles. */
export const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] as string[] };

/** The app exactly as `cdk synth` defines it, with the given -c values. */
export async function synthesize(context: Record<string, unknown> = {}): Promise<{ app: App; stack: DaysSinceStack; template: Template }> {
  const app = new App({ context: { ...NO_BUNDLING, ...context } });
  const stack = await defineDaysSinceApp(app);
  return { app, stack, template: Template.fromStack(stack) };
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: string[]; DeletionPolicy?: string }>;

/** The resources of one type, by logical id. */
export function resourcesOf(template: Template, type: string): Resources {
  return template.findResources(type) as Resources;
}

/** The logical id of the single resource of `type` whose id starts with `prefix` (ids are the construct path, flattened). */
export function logicalId(template: Template, type: string, prefix: string): string {
  const ids = Object.keys(resourcesOf(template, type)).filter((id) => id.startsWith(prefix));
  if (ids.length !== 1) throw new Error(`expected one ${type} starting with ${prefix}, found ${ids.join(', ') || 'none'}`);
  return ids[0]!;
}

const tableArn = (template: Template, prefix: string) => ({ 'Fn::GetAtt': [logicalId(template, 'AWS::DynamoDB::Table', prefix), 'Arn'] });

/** Ingest's one DynamoDB statement: write into the buffer, read a duplicate's original. */
export const acceptGrant = (template: Template) => ({ Effect: 'Allow', Action: ['dynamodb:PutItem', 'dynamodb:GetItem'], Resource: tableArn(template, 'Buffer') });

/** What every function that reads snapshot + buffer and folds holds: scan the pending index, update the buffer, the record and the lease. */
export const foldingGrants = (template: Template) => [
  { Effect: 'Allow', Action: 'dynamodb:Scan', Resource: { 'Fn::Join': ['', [tableArn(template, 'Buffer'), '/index/pending']] } },
  { Effect: 'Allow', Action: 'dynamodb:UpdateItem', Resource: tableArn(template, 'Buffer') },
  {
    Effect: 'Allow',
    Action: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    Resource: tableArn(template, 'PublishedFigures'),
    Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['published-figures', 'fold-lease'] } },
  },
];

/** What the users routes hold beside the folding grants: find a user's items anywhere in the buffer, and delete them. */
export const userChangeGrant = (template: Template) => ({ Effect: 'Allow', Action: ['dynamodb:Scan', 'dynamodb:DeleteItem'], Resource: tableArn(template, 'Buffer') });
