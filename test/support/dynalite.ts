import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { BUFFER_KEY, PENDING_INDEX, PENDING_SINCE } from '../../functions/aws/buffer-table.js';

/*
 * DynamoDB's API from dynalite, in memory on loopback: it validates requests as DynamoDB does (expressions, reserved
 * words, conditional writes, item size, consistent reads on a local index only), so the real DynamoDBClient and the real
 * adapters run against it. No transactions and no TTL deletion: the adapters use neither to be correct.
 */
export interface DynamoStandIn {
  endpoint: string;
  client: DynamoDBClient;
  /** The environment a bundled Lambda needs to reach it. */
  env: Record<string, string>;
  close(): Promise<void>;
}

export async function startDynalite(): Promise<DynamoStandIn> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const credentials = { accessKeyId: 'AKIDDYNALITE', secretAccessKey: 'dynalite-secret' };
  const client = new DynamoDBClient({ endpoint, region: 'eu-west-1', credentials });
  return {
    endpoint,
    client,
    env: { AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_ACCESS_KEY_ID: credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey },
    async close() {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const tableName = (what: string) => `${what}-${randomBytes(4).toString('hex')}`;

/** The buffer table as lib/buffer.ts declares it: the same key, sparse local index and attribute names. */
export async function createBufferTable(client: DynamoDBClient): Promise<string> {
  const name = tableName('buffer');
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: BUFFER_KEY.partition, AttributeType: 'S' },
        { AttributeName: BUFFER_KEY.sort, AttributeType: 'S' },
        { AttributeName: PENDING_SINCE, AttributeType: 'N' },
      ],
      KeySchema: [
        { AttributeName: BUFFER_KEY.partition, KeyType: 'HASH' },
        { AttributeName: BUFFER_KEY.sort, KeyType: 'RANGE' },
      ],
      LocalSecondaryIndexes: [
        {
          IndexName: PENDING_INDEX,
          KeySchema: [
            { AttributeName: BUFFER_KEY.partition, KeyType: 'HASH' },
            { AttributeName: PENDING_SINCE, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
    }),
  );
  return name;
}

/** The snapshot table as lib/snapshot-store.ts declares it. */
export async function createSnapshotTable(client: DynamoDBClient): Promise<string> {
  const name = tableName('figures');
  await client.send(
    new CreateTableCommand({
      TableName: name,
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    }),
  );
  return name;
}
