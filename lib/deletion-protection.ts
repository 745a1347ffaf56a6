import { CfnResource, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct, type IConstruct } from 'constructs';

export interface DeletionProtectionProps {
  cluster: rds.DatabaseCluster;
  /** -c deletionProtection. */
  enabled: boolean;
  logRetention: RetentionDays;
}

/**
 * Aurora's deletion protection, set by the last resource of every deploy (ModifyDBCluster), not by the cluster's own
 * template: CloudFormation cannot delete a protected cluster, so the rollback of a failed first deploy would stop
 * (ROLLBACK_FAILED) and leave it billing, where RetainExceptOnCreate asks for it to be deleted. Once every other resource
 * exists the deploy can no longer fail, and from then on the cluster is protected; later deploys set it again, so
 * `-c deletionProtection=false` takes it off before a teardown.
 */
export class DeletionProtection extends Construct {
  readonly resource: cr.AwsCustomResource;

  constructor(scope: Construct, id: string, props: DeletionProtectionProps) {
    super(scope, id);
    const call: cr.AwsSdkCall = {
      service: 'RDS',
      action: 'ModifyDBCluster',
      parameters: { DBClusterIdentifier: props.cluster.clusterIdentifier, DeletionProtection: props.enabled, ApplyImmediately: true },
      physicalResourceId: cr.PhysicalResourceId.of(props.cluster.clusterIdentifier),
      // The whole DBCluster would overflow a custom resource's 4 KB response.
      outputPaths: ['DBCluster.DeletionProtection'],
    };
    this.resource = new cr.AwsCustomResource(this, 'Setting', {
      onCreate: call,
      onUpdate: call,
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({ resources: [props.cluster.clusterArn] }),
      installLatestAwsSdk: false,
      logGroup: new LogGroup(this, 'Logs', { retention: props.logRetention, removalPolicy: RemovalPolicy.DESTROY }),
    });
    Validations.of(this.resource.grantPrincipal as unknown as IConstruct).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'CDK\'s AwsCustomResource function writes its logs with the basic execution role; its one other right is ModifyDBCluster on this cluster.',
    });
  }

  /**
   * Makes the setting wait for every other resource of the stack, so nothing can fail after the cluster is protected.
   * Call once the stack is complete.
   */
  comesLast(): void {
    const stack = Stack.of(this);
    const setting = this.resource.node.findChild('Resource').node.defaultChild as CfnResource;
    for (const child of stack.node.children) if (child !== this) setting.node.addDependency(child);
  }
}
