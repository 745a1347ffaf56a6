import { CfnResource, Stack } from 'aws-cdk-lib';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { CfnSecretTargetAttachment } from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { ContextError } from './settings.js';

/**
 * Lambda refuses a function whose environment variables exceed 4 KB in total
 * (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). Counted here as the JSON of the whole map,
 * names, quotes and separators included: more than the names and values alone, so a function that passes fits.
 */
export const LAMBDA_ENVIRONMENT_BYTES = 4096;

/** The longest value each pseudo parameter takes in any partition and Region today, with room to spare. */
const PSEUDO_PARAMETER_LENGTH: Record<string, number> = {
  'AWS::Region': 16, // ap-southeast-7, us-isob-east-1: 14
  'AWS::AccountId': 12,
  'AWS::Partition': 12, // aws-us-gov: 10
  'AWS::URLSuffix': 20, // amazonaws.com.cn: 16
};

/** Longest name CloudFormation may give each kind of resource it names itself (its name's length limit). */
const NAME_LIMIT: Record<string, number> = {
  'AWS::RDS::DBCluster': 63,
  'AWS::DynamoDB::Table': 255,
  'AWS::SecretsManager::Secret': 512,
  'AWS::SNS::Topic': 256,
  'AWS::SQS::Queue': 80,
  'AWS::Lambda::Function': 64,
};

/** What a Ref or an ARN of a resource comes to, by its kind: the name, or the ARN around it (Secrets Manager adds -XXXXXX). */
const REFERENCE: Record<string, (name: number, arnPrefix: (service: string) => number) => { ref: number; arn: number }> = {
  'AWS::RDS::DBCluster': (name, arn) => ({ ref: name, arn: arn('rds') + 'cluster:'.length + name }),
  'AWS::DynamoDB::Table': (name, arn) => ({ ref: name, arn: arn('dynamodb') + 'table/'.length + name }),
  'AWS::SecretsManager::Secret': (name, arn) => ({ ref: arn('secretsmanager') + 'secret:'.length + name + 7, arn: arn('secretsmanager') + 'secret:'.length + name + 7 }),
  'AWS::SNS::Topic': (name, arn) => ({ ref: arn('sns') + name, arn: arn('sns') + name }),
  'AWS::SQS::Queue': (name, arn) => ({ ref: 'https://sqs.'.length + 16 + '.amazonaws.com/'.length + 12 + 1 + name, arn: arn('sqs') + name }),
  'AWS::Lambda::Function': (name, arn) => ({ ref: name, arn: arn('lambda') + 'function:'.length + name }),
};

/**
 * The most characters `value` (a template value: text, or an intrinsic function) can come to once deployed. Names
 * CloudFormation makes up are "<stack>-<logical id>-<13 characters>", cut to the kind's limit; an intrinsic this does
 * not know is an error, so a new kind of value cannot slip past the check.
 */
function deployedLength(stack: Stack, value: unknown, resources: ReadonlyMap<string, CfnResource> = resourcesByLogicalId(stack)): number {
  if (typeof value === 'string') return Buffer.byteLength(JSON.stringify(value)) - 2;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value).length;
  const arnPrefix = (service: string) => `arn::${service}:::`.length + PSEUDO_PARAMETER_LENGTH['AWS::Partition']! + PSEUDO_PARAMETER_LENGTH['AWS::Region']! + 12;
  const resourceLength = (logicalId: string, attribute: 'ref' | 'arn'): number => {
    if (logicalId === 'AWS::StackName') return stack.stackName.length;
    const pseudo = PSEUDO_PARAMETER_LENGTH[logicalId];
    if (pseudo !== undefined) return pseudo;
    const resource = resources.get(logicalId);
    const kind = resource?.cfnResourceType ?? '';
    const name = Math.min(NAME_LIMIT[kind] ?? 0, stack.stackName.length + logicalId.length + 15);
    // A secret attachment's Ref is the ARN of the secret it attaches (the database's).
    if (resource instanceof CfnSecretTargetAttachment) return deployedLength(stack, stack.resolve(resource.secretId), resources);
    const reference = REFERENCE[kind];
    if (!reference) throw new Error(`the environment-size check does not know how long a ${attribute} of ${kind || logicalId} is: add it to lib/environment-size.ts`);
    return reference(name, arnPrefix)[attribute];
  };
  const intrinsic = value as Record<string, unknown>;
  if (typeof intrinsic.Ref === 'string') return resourceLength(intrinsic.Ref, 'ref');
  const getAtt = intrinsic['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt && getAtt[1] === 'Arn') return resourceLength(getAtt[0], 'arn');
  const join = intrinsic['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].reduce<number>((sum, part) => sum + deployedLength(stack, part, resources), join[0].length * Math.max(0, join[1].length - 1));
  throw new Error(`the environment-size check cannot bound ${JSON.stringify(value)}: add it to lib/environment-size.ts`);
}

function resourcesByLogicalId(stack: Stack): Map<string, CfnResource> {
  const resources = stack.node.findAll().filter((c): c is CfnResource => CfnResource.isCfnResource(c));
  return new Map(resources.map((resource) => [stack.resolve(resource.logicalId) as string, resource]));
}

/** Every variable of one function with the most bytes it can take once deployed, largest first. */
export function environmentBound(
  stack: Stack,
  fn: CfnFunction,
  resources: ReadonlyMap<string, CfnResource> = resourcesByLogicalId(stack),
): { total: number; variables: Array<[string, number]> } {
  const environment = stack.resolve(fn.environment) as { variables?: Record<string, unknown> } | undefined;
  const variables = Object.entries(environment?.variables ?? {}).map(([name, value]): [string, number] => [name, deployedLength(stack, value, resources)]);
  // {"NAME":"value",...}: quotes, colon and comma around each, braces around all.
  const total = 2 + variables.reduce((sum, [name, length]) => sum + name.length + length + 6, 0) - (variables.length > 0 ? 1 : 0);
  return { total, variables: variables.sort((a, b) => b[1] - a[1]) };
}

/**
 * Checks every function of the stack whole, at synth: CDK's configuration lists, the stack name (in alarm names and the
 * dashboard's URL) and the generated names all count. A function over 4 KB is refused naming the context key to
 * shorten (`contextOfVariable`: the key that set each variable): the largest list it holds, or else the stack name.
 */
export function checkEnvironmentSizes(scope: Construct, contextOfVariable: Readonly<Record<string, string>>): void {
  const stack = Stack.of(scope);
  const resources = resourcesByLogicalId(stack);
  for (const fn of stack.node.findAll().filter((c): c is CfnFunction => c instanceof CfnFunction)) {
    const { total, variables } = environmentBound(stack, fn, resources);
    if (total <= LAMBDA_ENVIRONMENT_BYTES) continue;
    const fromContext = variables.find(([name, length]) => contextOfVariable[name] !== undefined && length > 0);
    const key = fromContext && fromContext[1] >= variables[0]![1] / 2 ? contextOfVariable[fromContext[0]]! : 'stackName';
    const largest = variables.slice(0, 3).map(([name, length]) => `${name} ${length}`).join(', ');
    throw new ContextError(
      key,
      `is too long: the environment of ${fn.node.scope?.node.path ?? fn.node.path} can reach ${total} bytes (largest: ${largest}), and a Lambda's whole environment holds 4 KB (${LAMBDA_ENVIRONMENT_BYTES} bytes)`,
    );
  }
}
