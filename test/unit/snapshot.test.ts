import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { SNAPSHOT_KEY, snapshotTable } from '../../functions/aws/snapshot-table.js';
import { loadConfig } from '../../functions/core/config.js';
import { DAY_MS } from '../../functions/core/metric.js';
import {
  configFingerprint,
  decodeSnapshot,
  encodeSnapshot,
  freshnessOf,
  MAX_SNAPSHOT_USERS,
  type Snapshot,
  type SnapshotState,
} from '../../functions/core/snapshot.js';

const TAKEN_AT = new Date('2026-03-01T00:00:00Z');
const snapshot = (activeLastRealAt: number[] = [TAKEN_AT.getTime() - 1000]): Snapshot => ({
  takenAt: TAKEN_AT,
  fingerprint: 'f1',
  baseline: new Date('2026-02-01T00:00:00Z'),
  lastRealInteractionAt: new Date(TAKEN_AT.getTime() - 1000),
  totalRealUsers: 7,
  activeLastRealAt,
});

describe('the snapshot encoding', () => {
  it('round-trips any ascending times in the 30 days before it was taken (and 5 minutes after)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: TAKEN_AT.getTime() - 30 * DAY_MS, max: TAKEN_AT.getTime() + 300_000 })), (times) => {
        const sorted = times.sort((a, b) => a - b);
        expect(decodeSnapshot(encodeSnapshot(snapshot(sorted)))).toEqual(snapshot(sorted));
      }),
    );
  });

  it(`keeps ${MAX_SNAPSHOT_USERS} users within DynamoDB's 400 KB item limit, spread evenly (the largest case) or at random`, () => {
    const start = TAKEN_AT.getTime() - 30 * DAY_MS;
    const even = Array.from({ length: MAX_SNAPSHOT_USERS }, (_, n) => start + 1 + Math.floor((n * 30 * DAY_MS) / MAX_SNAPSHOT_USERS));
    const evenBytes = encodeSnapshot(snapshot(even)).length;
    expect(evenBytes).toBeLessThan(160_000);
    const random = fc.sample(fc.integer({ min: start + 1, max: TAKEN_AT.getTime() + 300_000 }), { numRuns: MAX_SNAPSHOT_USERS, seed: 11 }).sort((a, b) => a - b);
    expect(encodeSnapshot(snapshot(random)).length).toBeLessThan(160_000);
  });

  it('refuses times that are not ascending', () => {
    expect(() => encodeSnapshot(snapshot([2, 1]))).toThrow(RangeError);
  });
});

describe('freshness', () => {
  const fresh: SnapshotState = { writes: 3, dirtyUntil: new Date(TAKEN_AT.getTime() - 1), record: { seenWrites: 3, snapshot: snapshot() } };
  it.each([
    ['fresh', fresh, TAKEN_AT],
    ['missing', { ...fresh, record: null }, TAKEN_AT],
    ['over_bound', { ...fresh, record: { seenWrites: 3, snapshot: null } }, TAKEN_AT],
    ['other_configuration', { ...fresh, record: { seenWrites: 3, snapshot: { ...snapshot(), fingerprint: 'f2' } } }, TAKEN_AT],
    ['recorded_since', { ...fresh, writes: 4 }, TAKEN_AT],
    ['taken_while_recording', { ...fresh, dirtyUntil: TAKEN_AT }, TAKEN_AT],
    ['clock_behind', fresh, new Date(TAKEN_AT.getTime() - 1)],
  ] as const)('%s', (expected, state, now) => {
    expect(freshnessOf(state, 'f1', now)).toBe(expected);
  });

  it('the fingerprint changes with what counts, not with the order lists were written in', () => {
    const base = { INTERNAL_USER_IDS: 'a0000000-0000-4000-8000-000000000000,b0000000-0000-4000-8000-000000000000', INTERNAL_EMAIL_DOMAINS: 'corp.example' };
    const fingerprint = (env: Record<string, string>) => configFingerprint(loadConfig(env));
    expect(fingerprint({ ...base, INTERNAL_USER_IDS: 'B0000000-0000-4000-8000-000000000000,a0000000-0000-4000-8000-000000000000' })).toBe(fingerprint(base));
    const changed = [
      { ...base, INTERNAL_USER_IDS: 'a0000000-0000-4000-8000-000000000000' },
      { ...base, INTERNAL_EMAIL_DOMAINS: 'corp.example,other.example' },
      { ...base, WARNING_DAYS: '2' },
      { ...base, CRITICAL_DAYS: '8' },
      { ...base, BASELINE_DATE: '2026-02-01' },
    ].map(fingerprint);
    expect(new Set([fingerprint(base), ...changed]).size).toBe(6);
    // Targets and milestones decide nothing the snapshot holds.
    expect(fingerprint({ ...base, DAU_TARGET: '99' })).toBe(fingerprint(base));
  });
});

describe('the DynamoDB snapshot table', () => {
  const dynamo = mockClient(DynamoDBClient);
  afterAll(() => dynamo.restore());
  const table = snapshotTable(new DynamoDBClient({}), 'SnapshotTable');
  beforeEach(() => dynamo.reset());

  it('reads the one item strongly consistent, and finds nothing on a new table', async () => {
    dynamo.on(GetItemCommand).resolves({});
    expect(await table.read()).toEqual({ writes: 0, dirtyUntil: null, record: null });
    expect(dynamo.commandCalls(GetItemCommand).map((call) => call.args[0].input)).toEqual([
      { TableName: 'SnapshotTable', Key: { id: { S: 'published-figures' } }, ConsistentRead: true },
    ]);
  });

  it('ingest adds one to the counter and sets the end of its recording window, nothing else', async () => {
    dynamo.on(UpdateItemCommand).resolves({});
    await table.markStale(new Date('2026-03-01T00:02:00Z'));
    expect(dynamo.commandCalls(UpdateItemCommand).map((call) => call.args[0].input)).toEqual([
      {
        TableName: 'SnapshotTable',
        Key: SNAPSHOT_KEY,
        UpdateExpression: 'ADD #writes :one SET #dirtyUntil = :until',
        ExpressionAttributeNames: { '#writes': 'writes', '#dirtyUntil': 'dirtyUntil' },
        ExpressionAttributeValues: { ':one': { N: '1' }, ':until': { N: String(Date.parse('2026-03-01T00:02:00Z')) } },
      },
    ]);
  });

  it('saves only over a snapshot taken under the same or an earlier mark, and reads back what it saved', async () => {
    dynamo.on(UpdateItemCommand).resolves({});
    await table.save({ seenWrites: 4, snapshot: snapshot() });
    const [input] = dynamo.commandCalls(UpdateItemCommand).map((call) => call.args[0].input);
    expect(input).toEqual({
      TableName: 'SnapshotTable',
      Key: SNAPSHOT_KEY,
      UpdateExpression: 'SET #seenWrites = :seen, #snapshot = :snapshot',
      ExpressionAttributeNames: { '#seenWrites': 'seenWrites', '#snapshot': 'snapshot' },
      ExpressionAttributeValues: { ':seen': { N: '4' }, ':snapshot': { B: encodeSnapshot(snapshot()) } },
      ConditionExpression: 'attribute_not_exists(#seenWrites) OR #seenWrites <= :seen',
    });
    dynamo.on(GetItemCommand).resolves({
      Item: { id: SNAPSHOT_KEY.id, writes: { N: '4' }, dirtyUntil: { N: '1000' }, seenWrites: { N: '4' }, snapshot: input!.ExpressionAttributeValues![':snapshot']! },
    });
    expect(await table.read()).toEqual({ writes: 4, dirtyUntil: new Date(1000), record: { seenWrites: 4, snapshot: snapshot() } });
  });

  it('over the bound, keeps the mark and drops the snapshot; a newer snapshot already there is left alone', async () => {
    dynamo.on(UpdateItemCommand).rejectsOnce(new ConditionalCheckFailedException({ message: 'newer', $metadata: {} })).resolves({});
    await expect(table.save({ seenWrites: 2, snapshot: snapshot() })).resolves.toBeUndefined();
    await table.save({ seenWrites: 5, snapshot: null });
    expect(dynamo.commandCalls(UpdateItemCommand)[1]!.args[0].input).toMatchObject({
      UpdateExpression: 'SET #seenWrites = :seen REMOVE #snapshot',
      ExpressionAttributeValues: { ':seen': { N: '5' } },
    });
  });

  it('lets any other failure through', async () => {
    dynamo.on(UpdateItemCommand).rejects(Object.assign(new Error('throttled'), { name: 'ThrottlingException' }));
    await expect(table.save({ seenWrites: 1, snapshot: snapshot() })).rejects.toThrow('throttled');
    await expect(table.markStale(TAKEN_AT)).rejects.toThrow('throttled');
  });
});
