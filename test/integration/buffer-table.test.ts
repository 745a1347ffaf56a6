import { randomUUID } from 'node:crypto';
import { GetItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUFFER_KEY, bufferTable, EXPIRES_AT, PENDING_SINCE } from '../../functions/aws/buffer-table.js';
import { foldLeaseItem, snapshotTable } from '../../functions/aws/snapshot-table.js';
import { bufferPartitionOf, DUPLICATE_WINDOW_DAYS, MAX_FOLDED_ID_BYTES } from '../../functions/core/buffer.js';
import { DAY_MS } from '../../functions/core/metric.js';
import type { InteractionToStore } from '../../functions/core/recording.js';
import { MAX_SNAPSHOT_BYTES, type Snapshot } from '../../functions/core/snapshot.js';
import { createBufferTable, createSnapshotTable, startDynalite, type DynamoStandIn } from '../support/dynalite.js';

let dynamo: DynamoStandIn;
beforeAll(async () => {
  dynamo = await startDynalite();
});
afterAll(async () => {
  await dynamo?.close();
});

const AT = Date.parse('2026-03-01T00:00:00Z');
const interaction = (eventId: string, overrides: Partial<InteractionToStore> = {}): InteractionToStore => ({
  event_id: eventId,
  user_id: 'b0000000-0000-4000-8000-000000000000',
  interaction_type: 'login',
  occurred_at: new Date(AT).toISOString(),
  exclusion_reason: null,
  marked_internal: false,
  email_domain: null,
  user_agent: null,
  ip: null,
  metadata: {},
  ...overrides,
});

describe('the buffer table (DynamoDB through dynalite)', () => {
  it('accepts each event_id once, pending or folded, and answers a duplicate with the original verdict', async () => {
    const buffer = bufferTable(dynamo.client, await createBufferTable(dynamo.client));
    const first = interaction('e-1', { exclusion_reason: 'test_traffic' });
    const outcomes = await buffer.accept([first, interaction('e-2'), interaction('e-1', { user_id: 'c0000000-0000-4000-8000-000000000000' })], AT);
    expect(outcomes.map((outcome) => [outcome.recorded, outcome.stored.exclusion_reason, outcome.stored.user_id])).toEqual([
      [true, 'test_traffic', first.user_id],
      [true, null, first.user_id],
      // Later in the same call: the first copy stands.
      [false, 'test_traffic', first.user_id],
    ]);
    expect((await buffer.pending()).map((item) => [item.event_id, item.receivedAt, item.exclusion_reason])).toEqual(
      expect.arrayContaining([
        ['e-1', AT, 'test_traffic'],
        ['e-2', AT, null],
      ]),
    );

    // A retry while pending: refused by the conditional write, answered from the item.
    expect(await buffer.accept([interaction('e-2', { exclusion_reason: 'automated_client' })], AT + 1)).toEqual([
      { recorded: false, stored: { user_id: first.user_id, exclusion_reason: null, marked_internal: false, email_domain: null }, knownUser: null },
    ]);

    // Folded: out of what is pending, remembered for DUPLICATE_WINDOW_DAYS.
    await buffer.markFolded(['e-1', 'never-buffered'], new Date(AT));
    expect((await buffer.pending()).map((item) => item.event_id)).toEqual(['e-2']);
    const [again] = await buffer.accept([interaction('e-1')], AT + 2);
    expect(again).toMatchObject({ recorded: false, stored: { exclusion_reason: 'test_traffic' } });
  });

  it('keeps only the verdict and a TTL once folded, and never creates an item for an id it never held', async () => {
    const name = await createBufferTable(dynamo.client);
    const buffer = bufferTable(dynamo.client, name);
    await buffer.accept([interaction('kept', { metadata: { plan: 'trial' } })], AT);
    await buffer.markFolded(['kept', 'ghost'], new Date(AT));
    const key = (id: string) => ({ [BUFFER_KEY.partition]: { S: bufferPartitionOf(id) }, [BUFFER_KEY.sort]: { S: id } });
    const { Item } = await dynamo.client.send(new GetItemCommand({ TableName: name, Key: key('kept'), ConsistentRead: true }));
    expect(Object.keys(Item!).sort()).toEqual([BUFFER_KEY.sort, EXPIRES_AT, BUFFER_KEY.partition, 'verdict'].sort());
    expect(Number(Item![EXPIRES_AT]!.N)).toBe((AT + DUPLICATE_WINDOW_DAYS * DAY_MS) / 1000);
    expect(Item![PENDING_SINCE]).toBeUndefined();
    expect((await dynamo.client.send(new GetItemCommand({ TableName: name, Key: key('ghost'), ConsistentRead: true }))).Item).toBeUndefined();
  });

  it('reads every pending interaction past one page of the index (1 MB), and nothing folded', async () => {
    const name = await createBufferTable(dynamo.client);
    const buffer = bufferTable(dynamo.client, name);
    const big = { notes: 'x'.repeat(7_000) };
    const items = Array.from({ length: 220 }, (_, n) => interaction(`big-${n}`, { metadata: big }));
    await buffer.accept(items, AT);
    await buffer.markFolded(['big-0', 'big-1'], new Date(AT));
    const firstPage = await dynamo.client.send(new ScanCommand({ TableName: name, IndexName: 'pending', ConsistentRead: true }));
    expect(firstPage.LastEvaluatedKey).toBeDefined();
    const pending = await buffer.pending();
    expect(pending).toHaveLength(218);
    expect(new Set(pending.map((item) => item.event_id)).size).toBe(218);
    expect(pending.find((item) => item.event_id === 'big-7')!.metadata).toEqual(big);
  });
});

describe('the snapshot record and the fold lease (one DynamoDB table)', () => {
  const snapshot = (users: number): Snapshot => ({
    takenAt: new Date(AT),
    fingerprint: 'f'.repeat(32),
    baseline: new Date('2026-01-01T00:00:00Z'),
    realUsers: new Map(Array.from({ length: users }, (_, n) => [randomUUID(), AT - n * 60_000])),
    internalUsers: new Set(),
    lastByType: new Map(),
    lastExcluded: null,
    recentExclusions: [],
  });

  it('reads nothing on a new table, then the record as saved; an older record never replaces a newer one', async () => {
    const store = snapshotTable(dynamo.client, await createSnapshotTable(dynamo.client));
    expect(await store.read()).toBeNull();
    const newer = { takenAt: new Date(AT), fingerprint: 'f'.repeat(32), snapshot: snapshot(3), folded: new Set(['a', 'b']) };
    await store.save(newer);
    expect(await store.read()).toEqual(newer);
    await store.save({ ...newer, takenAt: new Date(AT - 1), snapshot: null, folded: new Set() });
    expect(await store.read()).toEqual(newer);
    const overBound = { ...newer, takenAt: new Date(AT + 1), snapshot: null };
    await store.save(overBound);
    expect(await store.read()).toEqual(overBound);
  });

  it('fits a record at its limits (the largest snapshot and folded ids) in one 400 KB item', async () => {
    const store = snapshotTable(dynamo.client, await createSnapshotTable(dynamo.client));
    let users = 11_000;
    // Grow the snapshot to its byte limit with random (incompressible) ids.
    const { encodeSnapshot } = await import('../../functions/core/snapshot.js');
    while (encodeSnapshot(snapshot(users + 200)).byteLength <= MAX_SNAPSHOT_BYTES) users += 200;
    const folded = new Set<string>();
    let bytes = 0;
    // Twice the ids one fold may take: a crashed fold's intent plus the next one's own.
    while (bytes < 2 * MAX_FOLDED_ID_BYTES - 201) {
      const id = `${randomUUID()}-${'x'.repeat(160)}`;
      folded.add(id);
      bytes += id.length + 1;
    }
    const record = { takenAt: new Date(AT), fingerprint: 'f'.repeat(32), snapshot: snapshot(users), folded };
    await store.save(record);
    expect((await store.read())!.folded.size).toBe(folded.size);
    expect((await store.read())!.snapshot!.realUsers.size).toBe(users);
  });

  it('gives the lease to one fold at a time, until it lapses; a failed fold leaves its intent, a completed one clears it', async () => {
    const lease = foldLeaseItem(dynamo.client, await createSnapshotTable(dynamo.client));
    expect(await lease.acquire('a', AT + 60_000, AT)).toEqual({ intent: new Set() });
    expect(await lease.acquire('b', AT + 60_000, AT + 1_000)).toBeNull();
    await lease.noteIntent('a', ['e-1', 'e-2']);
    await expect(lease.noteIntent('b', ['e-3'])).rejects.toThrow();
    await lease.release('a', false);
    expect(await lease.acquire('b', AT + 120_000, AT + 2_000)).toEqual({ intent: new Set(['e-1', 'e-2']) });
    // b dies holding it: c waits for it to lapse, then finds b's intent.
    await lease.noteIntent('b', ['e-1', 'e-2', 'e-4']);
    expect(await lease.acquire('c', AT + 200_000, AT + 119_999)).toBeNull();
    expect(await lease.acquire('c', AT + 200_000, AT + 120_001)).toEqual({ intent: new Set(['e-1', 'e-2', 'e-4']) });
    await lease.release('b', true);
    await lease.release('c', true);
    expect(await lease.acquire('d', AT + 300_000, AT + 130_000)).toEqual({ intent: new Set() });
  });
});
