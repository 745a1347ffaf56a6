import { CfnResource, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';

/** Whether a function resource names its log group; CDK's own providers (the trigger's) are plain CfnResources without one. */
function namesItsLogGroup(resource: CfnResource): boolean {
  if (resource instanceof CfnFunction) return resource.loggingConfig !== undefined;
  return (resource as unknown as { _cfnProperties?: Record<string, unknown> })._cfnProperties?.LoggingConfig !== undefined;
}

/**
 * Gives every Lambda function of the stack that has no log group of its own one with the stack's retention. Without it
 * Lambda makes /aws/lambda/<name> on the first run, kept forever: the CDK trigger provider's was. Call once the stack
 * is complete; the ServiceFunctions already have theirs.
 */
export function keepNoLogForever(stack: Stack, retention: RetentionDays): void {
  const functions = stack.node
    .findAll()
    .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && c.cfnResourceType === 'AWS::Lambda::Function' && !namesItsLogGroup(c));
  for (const fn of functions) {
    const logs = new LogGroup(fn.node.scope!, `${fn.node.id}Logs`, { retention, removalPolicy: RemovalPolicy.DESTROY });
    // The function then depends on the group, so it exists before the first run writes to it.
    fn.addPropertyOverride('LoggingConfig', { LogGroup: logs.logGroupName });
  }
}
