import { Arn, ArnFormat, Aws, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import { ContextError } from './settings.js';

/** An existing secret as the Lambdas and IAM see it. */
export interface ExistingSecret {
  secret: secretsmanager.ISecret;
  /** What GetSecretValue is given (its SecretId): the name, or the ARN as the user gave it. */
  secretId: string;
  /** Lets `grantee` read the secret: GetSecretValue, and kms:Decrypt with its customer managed key through Secrets Manager. */
  grantRead(grantee: iam.IGrantable): void;
}

// Secrets Manager: names of letters, digits and /_+=.@-, up to 512 characters; it appends -XXXXXX to make the ARN.
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const ENDS_LIKE_A_SUFFIX = /-[A-Za-z0-9]{6}$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;

/**
 * The secret named by -c slackWebhookSecretName: a name, or an ARN (complete, or partial without Secrets Manager's
 * -XXXXXX). Secrets Manager takes an ARN whose name ends in a hyphen and six characters for a complete one
 * (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetSecretValue.html, SecretId), so a name
 * like that is passed to GetSecretValue as the name, never as a partial ARN; IAM grants name-?????? either way.
 * With -c slackWebhookKmsKeyArn (a customer managed key) the readers may decrypt with that key, through Secrets Manager only.
 */
export function existingSlackSecret(scope: Construct, id: string, reference: string, kmsKeyArn?: string): ExistingSecret {
  const keyArn = kmsKeyArn === undefined ? undefined : checkedKeyArn(kmsKeyArn);
  let secret: secretsmanager.ISecret;
  if (reference.startsWith('arn:')) {
    const attributes = ENDS_LIKE_A_SUFFIX.test(secretNameOf(reference)) ? { secretCompleteArn: reference } : { secretPartialArn: reference };
    secret = secretsmanager.Secret.fromSecretAttributes(scope, id, attributes);
  } else {
    if (!SECRET_NAME.test(reference)) {
      throw new ContextError('slackWebhookSecretName', `must be a secret's name (letters, digits and /_+=.@-) or its ARN, got "${reference}"`);
    }
    const partialArn = Stack.of(scope).formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: reference, arnFormat: ArnFormat.COLON_RESOURCE_NAME });
    secret = secretsmanager.Secret.fromSecretAttributes(scope, id, { secretPartialArn: partialArn });
  }
  return {
    secret,
    secretId: reference,
    grantRead(grantee) {
      secret.grantRead(grantee);
      if (keyArn === undefined) return;
      // Written out: CDK's grant through an imported key adds nothing when the key's account is not the stack's token.
      grantee.grantPrincipal.addToPrincipalPolicy(
        new iam.PolicyStatement({
          actions: ['kms:Decrypt'],
          resources: [keyArn],
          conditions: { StringEquals: { 'kms:ViaService': `secretsmanager.${Aws.REGION}.amazonaws.com` } },
        }),
      );
    },
  };
}

function secretNameOf(arn: string): string {
  const parts = Arn.split(arn, ArnFormat.COLON_RESOURCE_NAME);
  if (parts.service !== 'secretsmanager' || parts.resource !== 'secret' || !parts.resourceName || !SECRET_NAME.test(parts.resourceName)) {
    throw new ContextError('slackWebhookSecretName', `is an ARN, but not a Secrets Manager secret's (arn:aws:secretsmanager:<region>:<account>:secret:<name>), got "${arn}"`);
  }
  return parts.resourceName;
}

function checkedKeyArn(arn: string): string {
  if (!KMS_KEY_ARN.test(arn)) throw new ContextError('slackWebhookKmsKeyArn', `must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>; not an alias), got "${arn}"`);
  return arn;
}
