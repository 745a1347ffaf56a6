import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

/** What a reader and a fold do: read the record (strongly consistent), write it whole, take and give back the lease. */
export const FOLDING_SNAPSHOT_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'] as const;

/** The two items (functions/aws/snapshot-table.ts SNAPSHOT_KEY and LEASE_KEY). */
export const SNAPSHOT_ITEM_ID = 'published-figures';
export const LEASE_ITEM_ID = 'fold-lease';

/**
 * Where the snapshot record and the fold's lease live: two items of an on-demand DynamoDB table. It bills per request and
 * per GB stored (nothing by the hour), needs no VPC, and gives the conditional writes the lease needs.
 */
export class SnapshotStore extends Construct {
  readonly table: dynamodb.Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'id', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      // A snapshot is rebuilt from Aurora whenever it is missing: nothing to keep or restore.
      removalPolicy: RemovalPolicy.DESTROY,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: false },
    });
    Validations.of(this.table).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason:
        'The table holds a snapshot of what Aurora says and a fold lease: any fold rebuilds the snapshot from Aurora whenever it is missing, so point-in-time recovery would bill for backups of nothing worth restoring.',
    });
  }

  /** The variable functions/aws/snapshot-table.ts reads. */
  get environment(): Record<'SNAPSHOT_TABLE_NAME', string> {
    return { SNAPSHOT_TABLE_NAME: this.table.tableName };
  }

  /** Readers and folds: the record and the lease, those two items only. */
  grantFolding(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: [...FOLDING_SNAPSHOT_ACTIONS],
        resources: [this.table.tableArn],
        conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [SNAPSHOT_ITEM_ID, LEASE_ITEM_ID] } },
      }),
    );
  }
}
