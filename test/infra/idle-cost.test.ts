import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { SNAPSHOT_KEY } from '../../functions/aws/snapshot-table.js';
import { SNAPSHOT_ITEM_ID } from '../../lib/snapshot-store.js';
import { logicalId, resourcesOf, synthesize } from './synth.js';

// Every type the stack deploys: each bills per request, per GB or per item a month, or not at all. A new type
// (a NAT gateway, an interface endpoint, a provisioned table, a cluster that never pauses...) must be weighed in
// the README's "What it costs" before it joins this list.
const RESOURCE_TYPES = [
  'AWS::ApiGateway::Account',
  'AWS::ApiGateway::ApiKey',
  'AWS::ApiGateway::Deployment',
  'AWS::ApiGateway::GatewayResponse',
  'AWS::ApiGateway::Method',
  'AWS::ApiGateway::Model',
  'AWS::ApiGateway::RequestValidator',
  'AWS::ApiGateway::Resource',
  'AWS::ApiGateway::RestApi',
  'AWS::ApiGateway::Stage',
  'AWS::ApiGateway::UsagePlan',
  'AWS::ApiGateway::UsagePlanKey',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::CompositeAlarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::DynamoDB::Table',
  'AWS::EC2::RouteTable',
  'AWS::EC2::SecurityGroup',
  'AWS::EC2::Subnet',
  'AWS::EC2::SubnetRouteTableAssociation',
  'AWS::EC2::VPC',
  'AWS::IAM::Policy',
  'AWS::IAM::Role',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::Lambda::Function',
  'AWS::Lambda::Permission',
  'AWS::Lambda::Version',
  'AWS::Logs::LogGroup',
  'AWS::RDS::DBCluster',
  'AWS::RDS::DBClusterParameterGroup',
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBSubnetGroup',
  'AWS::SNS::Subscription',
  'AWS::SNS::Topic',
  'AWS::SNS::TopicPolicy',
  'AWS::SQS::Queue',
  'AWS::SQS::QueuePolicy',
  'AWS::Scheduler::Schedule',
  'AWS::SecretsManager::Secret',
  'AWS::SecretsManager::SecretTargetAttachment',
  'Custom::Trigger',
];

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

/** Role logical id → the DynamoDB statements its policies hold. */
function dynamoGrants(template: Template): Record<string, Statement[]> {
  const grants: Record<string, Statement[]> = {};
  for (const policy of Object.values(resourcesOf(template, 'AWS::IAM::Policy'))) {
    const properties = policy.Properties as { Roles: Array<{ Ref: string }>; PolicyDocument: { Statement: Statement[] } };
    const statements = properties.PolicyDocument.Statement.filter((statement) =>
      [statement.Action].flat().some((action) => action.startsWith('dynamodb:')),
    );
    for (const role of properties.Roles) if (statements.length > 0) (grants[role.Ref] ??= []).push(...statements);
  }
  return grants;
}

describe('idle costs almost nothing', () => {
  let template: Template;
  let longerPause: Template;
  beforeAll(async () => {
    template = (await synthesize()).template;
    longerPause = (await synthesize({ autoPauseSeconds: '3600' })).template;
  }, 300_000);

  it('Aurora may pause at 0 ACU, 5 minutes after the last statement unless autoPauseSeconds says otherwise', () => {
    const [cluster] = Object.values(resourcesOf(template, 'AWS::RDS::DBCluster'));
    expect(cluster!.Properties!.ServerlessV2ScalingConfiguration).toEqual({ MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 300 });
    const [kept] = Object.values(resourcesOf(longerPause, 'AWS::RDS::DBCluster'));
    expect(kept!.Properties!.ServerlessV2ScalingConfiguration).toEqual({ MinCapacity: 0, MaxCapacity: 2, SecondsUntilAutoPause: 3600 });
  });

  it('keeps the snapshot in one on-demand DynamoDB table: no provisioned capacity, no backups billed', () => {
    const tables = Object.values(resourcesOf(template, 'AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(1);
    expect(tables[0]!.Properties).toEqual({
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: false },
    });
  });

  it('grants the publisher GetItem and UpdateItem, ingest and the users routes only an UpdateItem of the stale mark, on the one item alone; no other role touches it', () => {
    const table = { 'Fn::GetAtt': [logicalId(template, 'AWS::DynamoDB::Table', 'PublishedFigures'), 'Arn'] };
    expect(dynamoGrants(template)).toEqual({
      [logicalId(template, 'AWS::IAM::Role', 'AlertingPublisherRole')]: [
        {
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          Resource: table,
          Condition: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['published-figures'] } },
        },
      ],
      // Ingest, and the users routes (forget, unmark), only mark it stale.
      ...Object.fromEntries(
        ['FunctionsIngestRole', 'FunctionsUsersRole'].map((role) => [
          logicalId(template, 'AWS::IAM::Role', role),
          [
            {
              Effect: 'Allow',
              Action: 'dynamodb:UpdateItem',
              Resource: table,
              Condition: {
                'ForAllValues:StringEquals': { 'dynamodb:Attributes': ['id', 'writes', 'dirtyUntil'], 'dynamodb:LeadingKeys': ['published-figures'] },
                StringEqualsIfExists: { 'dynamodb:ReturnValues': 'NONE' },
              },
            },
          ],
        ]),
      ),
    });
    // The key the grants name is the key the Lambdas use.
    expect(SNAPSHOT_KEY.id.S).toBe(SNAPSHOT_ITEM_ID);
  });

  it('tells exactly the publisher, ingest and the users routes where the table is', () => {
    const table = logicalId(template, 'AWS::DynamoDB::Table', 'PublishedFigures');
    const told = Object.entries(resourcesOf(template, 'AWS::Lambda::Function'))
      .filter(([, fn]) => (fn.Properties as { Environment?: { Variables?: Record<string, unknown> } }).Environment?.Variables?.SNAPSHOT_TABLE_NAME)
      .map(([id, fn]) => [id.replace(/[0-9A-F]{8}$/, ''), (fn.Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables.SNAPSHOT_TABLE_NAME]);
    expect(told).toEqual(
      expect.arrayContaining([
        ['AlertingPublisherFunction', { Ref: table }],
        ['FunctionsIngestFunction', { Ref: table }],
        ['FunctionsUsersFunction', { Ref: table }],
      ]),
    );
    expect(told).toHaveLength(3);
  });

  it('deploys nothing that bills by the hour: the resource types are exactly the known ones', () => {
    const types = [...new Set(Object.values(template.toJSON().Resources as Record<string, { Type: string }>).map((resource) => resource.Type))].sort();
    expect(types).toEqual(RESOURCE_TYPES);
    expect(resourcesOf(template, 'AWS::EC2::NatGateway')).toEqual({});
    expect(resourcesOf(template, 'AWS::EC2::VPCEndpoint')).toEqual({});
  });
});
