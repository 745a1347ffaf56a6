import { Duration, RemovalPolicies, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import { keptAlongside, type DeploySettings } from './settings.js';

/** The database's share of the deployment settings; the cluster's removal policy also decides the fate of its network, secret and parameters. */
export type DaysSinceDatabaseProps = Pick<DeploySettings, 'minCapacity' | 'maxCapacity' | 'deletionProtection' | 'removalPolicy' | 'backupRetentionDays'> &
  Partial<Pick<DeploySettings, 'autoPauseSeconds'>>;

/** AWS's shortest pause delay: Aurora sleeps 5 minutes after the last statement. */
export const DEFAULT_AUTO_PAUSE_SECONDS = 300;

/** Exactly what the handlers call: one statement at a time, and a transaction around a migration or a batch. */
export const DATA_API_ACTIONS = [
  'rds-data:ExecuteStatement',
  'rds-data:BeginTransaction',
  'rds-data:CommitTransaction',
  'rds-data:RollbackTransaction',
] as const;

export const DATABASE_NAME = 'days_since';

/**
 * The stateful part: Aurora PostgreSQL 16 (Serverless v2, Data API on, able to pause at 0 ACU) in isolated subnets.
 * Nothing connects to it over the network; the Lambdas stay outside any VPC and use the Data API.
 */
export class DaysSinceDatabase extends Construct {
  readonly cluster: rds.DatabaseCluster;

  constructor(scope: Construct, id: string, props: DaysSinceDatabaseProps) {
    super(scope, id);
    const vpc = new ec2.Vpc(this, 'Network', {
      maxAzs: 2,
      natGateways: 0,
      subnetConfiguration: [{ name: 'database', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    });
    const securityGroup = new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
      vpc,
      description: 'days-since Aurora: no inbound rules, reached only through the Data API',
      allowAllOutbound: false,
    });
    // 16.4 or later: the first 16.x able to both serve the Data API and pause at 0 ACU.
    const engine = rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_9 });
    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine,
      credentials: rds.Credentials.fromGeneratedSecret('days_since_admin'),
      defaultDatabaseName: DATABASE_NAME,
      writer: rds.ClusterInstance.serverlessV2('Writer', { publiclyAccessible: false }),
      serverlessV2MinCapacity: props.minCapacity,
      serverlessV2MaxCapacity: props.maxCapacity,
      // Set explicitly: nothing scheduled reads Aurora while nothing is recorded, so it pauses this long after the last write.
      serverlessV2AutoPauseDuration: Duration.seconds(props.autoPauseSeconds ?? DEFAULT_AUTO_PAUSE_SECONDS),
      enableDataApi: true,
      storageEncrypted: true,
      backup: { retention: Duration.days(props.backupRetentionDays) },
      // Not in the template: a protected cluster cannot be deleted by the rollback of a failed first deploy, which
      // RetainExceptOnCreate asks for. DeletionProtection (below) turns it on once the whole stack is in place.
      deletionProtection: undefined,
      removalPolicy: props.removalPolicy,
      vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [securityGroup],
      // The SQL reads zone-less timestamps as UTC, so the session zone must be UTC whatever the account's defaults.
      parameterGroup: new rds.ParameterGroup(this, 'Parameters', {
        engine,
        description: 'days-since: sessions in UTC',
        parameters: { timezone: 'UTC' },
      }),
    });
    // A kept cluster keeps what it stands on (its writer, subnets, secret, parameters), the same way; a deleted one takes
    // them along, and a snapshotted one leaves its writer to CDK (deleted before the snapshot).
    const alongside = keptAlongside(props.removalPolicy);
    RemovalPolicies.of(this).apply(alongside, {
      excludeResourceTypes: ['AWS::RDS::DBCluster', ...(alongside === RemovalPolicy.DESTROY ? ['AWS::RDS::DBInstance'] : [])],
    });
    this.acknowledgeChecks(vpc, props);
  }

  get secret() {
    return this.cluster.secret!;
  }

  /** The variables runtime.ts reads to reach the database. */
  get connectionEnvironment(): Record<'DB_CLUSTER_ARN' | 'DB_SECRET_ARN' | 'DB_NAME', string> {
    return { DB_CLUSTER_ARN: this.cluster.clusterArn, DB_SECRET_ARN: this.secret.secretArn, DB_NAME: DATABASE_NAME };
  }

  /** The four Data API calls on this cluster and reading its secret; rds.grantDataApiAccess would add BatchExecuteStatement. */
  grantDataApi(grantee: iam.IGrantable): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: [...DATA_API_ACTIONS], resources: [this.cluster.clusterArn] }),
    );
    this.secret.grantRead(grantee);
  }

  private acknowledgeChecks(vpc: ec2.Vpc, props: DaysSinceDatabaseProps): void {
    Validations.of(vpc).acknowledge({
      id: 'AwsSolutions-VPC7',
      reason:
        'The VPC holds only the Aurora writer in isolated subnets (no NAT, no internet gateway) behind a security group with no inbound rules; no traffic flows for flow logs to record.',
    });
    Validations.of(this.cluster.node.findChild('Secret')).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Rotating the master secret needs a rotation Lambda inside the VPC with a route to Secrets Manager (NAT or an interface endpoint), which this network deliberately lacks; the secret is only read by the Data API on behalf of the three handlers and the migration.',
    });
    Validations.of(this.cluster).acknowledge({
      id: 'AwsSolutions-RDS6',
      reason:
        'Nothing connects to the cluster with a database password or token: the Lambdas use the Data API, which signs in with the generated secret; IAM database authentication would be a second, unused way in.',
    });
    Validations.of(this.cluster).acknowledge({
      id: 'AwsSolutions-RDS10',
      reason: props.deletionProtection
        ? 'Deletion protection is turned on by the DeletionProtection resource (ModifyDBCluster), the last of every deploy, not in the cluster\'s template: the rollback of a failed first deploy must be able to delete the cluster (RetainExceptOnCreate).'
        : 'Deletion protection was turned off on purpose with -c deletionProtection=false (docs/deploy.md asks for it only before tearing the stack down).',
    });
  }
}
