import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { RDSDataClient } from '@aws-sdk/client-rds-data';
import { loadConfig, stringFromEnv } from '../core/config.js';
import { dataApiDatabase, DEFAULT_RETRY, type DataApiTarget } from '../db/data-api.js';
import type { ServiceDeps } from './service.js';

export const logger = new Logger({ serviceName: 'days-since' });

export type Env = Readonly<Record<string, string | undefined>>;

/** When the current invocation must have answered (epoch ms), from the Lambda context; unknown outside Lambda. */
let invocationEndsAt = Number.POSITIVE_INFINITY;
/** Outside Lambda (a script, a test) a fold gets this long. */
const UNBOUNDED_INVOCATION_MS = 60_000;

/** Milliseconds left in the current invocation: every Data API call and every fold stays inside it. */
export const timeLeftInInvocation = (): number => invocationEndsAt - Date.now();
/** The current invocation's end as a finite instant, for a fold's lease. */
export const invocationDeadline = (): number =>
  Number.isFinite(invocationEndsAt) ? invocationEndsAt : Date.now() + UNBOUNDED_INVOCATION_MS;

export type AwsBaseDeps = Omit<ServiceDeps, 'db'>;

let base: AwsBaseDeps | undefined;
let deps: ServiceDeps | undefined;

/** Configuration read and checked once, a clock and a logger: what ingest needs (it never reaches Aurora). */
export function awsBaseDeps(): AwsBaseDeps {
  return (base ??= { config: loadConfig(process.env), now: () => new Date(), newEventId: randomUUID, log: logger });
}

/** The cluster, its secret and the database, as the stack's bindDatabase names them. */
export function dataApiTargetFromEnv(env: Readonly<Record<string, string | undefined>>): DataApiTarget {
  return {
    resourceArn: stringFromEnv(env, 'DB_CLUSTER_ARN'),
    secretArn: stringFromEnv(env, 'DB_SECRET_ARN'),
    database: stringFromEnv(env, 'DB_NAME'),
  };
}

let rdsData: RDSDataClient | undefined;
/** One Data API client per Lambda instance. */
export const rdsDataClient = (): RDSDataClient => (rdsData ??= new RDSDataClient({}));

/** Built on the first invocation and kept: configuration is read and checked once, the SDK client is made once. */
export function awsDeps(): ServiceDeps {
  return (deps ??= {
    ...awsBaseDeps(),
    db: dataApiDatabase(rdsDataClient(), dataApiTargetFromEnv(process.env), DEFAULT_RETRY, { timeLeft: timeLeftInInvocation }),
  });
}

let dynamo: DynamoDBClient | undefined;
/** One DynamoDB client per Lambda instance, for the buffer and the snapshot table alike. */
export const dynamoClient = (): DynamoDBClient => (dynamo ??= new DynamoDBClient({}));

interface LambdaContext {
  getRemainingTimeInMillis(): number;
}

function lazy<D, E, R>(build: () => D, create: (deps: D) => (event: E) => Promise<R>): (event: E, context?: LambdaContext) => Promise<R> {
  let handle: ((event: E) => Promise<R>) | undefined;
  return (event, context) => {
    invocationEndsAt = context?.getRemainingTimeInMillis ? Date.now() + context.getRemainingTimeInMillis() : Number.POSITIVE_INFINITY;
    return (handle ??= create(build()))(event);
  };
}

/** A Lambda entry point whose dependencies are built at first use, so importing the module has no side effects. */
export function lazyAwsDeps<E, R>(create: (deps: ServiceDeps) => (event: E) => Promise<R>): (event: E, context?: LambdaContext) => Promise<R> {
  return lazy(awsDeps, create);
}

/** The same, for a handler that never reaches Aurora (ingest): no database configuration needed. */
export function lazyAwsBaseDeps<E, R>(create: (deps: AwsBaseDeps) => (event: E) => Promise<R>): (event: E, context?: LambdaContext) => Promise<R> {
  return lazy(awsBaseDeps, create);
}
