import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_METADATA_DEPTH } from '../../functions/core/interaction.js';
import { createIngestHandler } from '../../functions/handlers/ingest.js';
import type { ApiEvent } from '../../functions/handlers/http.js';
import { startLocalService, type LocalService } from '../../functions/local/service.js';
import { countRows, databaseEmptiedForEachTest, post, testDeps } from '../support/harness.js';
import { localServiceEnv } from '../support/engines.js';

const ALICE = '9b2f1c3e-8a4d-4e5f-9a6b-7c8d9e0f1a2b';
const db = databaseEmptiedForEachTest();
const ingest = () => createIngestHandler(testDeps(db));
const parse = (result: { body: string }) => JSON.parse(result.body);
const fields = (result: { body: string }) => (parse(result).problems ?? []).map((problem: { field: string }) => problem.field);

/** A body as raw bytes, handed over as API Gateway hands a binary body: base64. */
const rawPost = (path: string, bytes: Buffer, headers: Record<string, string> = {}): ApiEvent => ({
  ...post(path, '', headers),
  body: bytes.toString('base64'),
  isBase64Encoded: true,
});

const nested = (depth: number) => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);
const single = (metadata: string, eventId = 'e-1') =>
  `{"event_id":"${eventId}","user_id":"${ALICE}","interaction_type":"login","metadata":${metadata}}`;
const batch = (metadata: string) => `{"interactions":[${single(metadata)}]}`;

async function storedMetadata(eventId: string): Promise<string> {
  const [row] = await db.query<{ metadata: string }>('SELECT metadata::text AS metadata FROM interactions WHERE event_id = :eventId', { eventId });
  return row!.metadata;
}

describe('depth: never a 500, the same limit on both routes, counted from the metadata', () => {
  it('refuses metadata nested 5,000 levels with a 400 naming metadata (it was a RangeError and a 500)', async () => {
    for (const [path, body] of [['/metrics/interaction', single(nested(5000))], ['/metrics/interactions', batch(nested(5000))]] as const) {
      const result = await ingest()(post(path, body));
      expect(result.statusCode).toBe(400);
      expect(fields(result)).toEqual([path === '/metrics/interaction' ? 'metadata' : 'interactions.0.metadata']);
      expect(parse(result).message).toContain(`nested more than ${MAX_METADATA_DEPTH} levels`);
    }
    expect(await countRows(db, 'interactions')).toBe(0);
  });

  it(`accepts metadata ${MAX_METADATA_DEPTH} levels deep on both routes, and refuses ${MAX_METADATA_DEPTH + 1} on both`, async () => {
    expect((await ingest()(post('/metrics/interaction', single(nested(MAX_METADATA_DEPTH), 'deep-1')))).statusCode).toBe(202);
    expect((await ingest()(post('/metrics/interactions', `{"interactions":[${single(nested(MAX_METADATA_DEPTH), 'deep-2')}]}`))).statusCode).toBe(202);
    expect((await ingest()(post('/metrics/interaction', single(nested(MAX_METADATA_DEPTH + 1), 'deep-3')))).statusCode).toBe(400);
    expect((await ingest()(post('/metrics/interactions', `{"interactions":[${single(nested(MAX_METADATA_DEPTH + 1), 'deep-4')}]}`))).statusCode).toBe(400);
    expect(await countRows(db, 'interactions')).toBe(2);
  });

  it('answers a body nested 300,000 levels (anywhere) with a 400', async () => {
    const deep = '['.repeat(300_000) + ']'.repeat(300_000);
    for (const body of [deep, `{"user_id":"${ALICE}","interaction_type":"login","context":${deep}}`, `{"interactions":${deep}}`]) {
      const result = await ingest()(post('/metrics/interactions', body));
      expect(result.statusCode).toBe(400);
    }
  });
});

describe('invalid UTF-8 is refused, never read as U+FFFD', () => {
  it('refuses raw bytes that are not UTF-8 with 400 invalid_json, so "ev-\\xff" and "ev-\\xfe" cannot collide', async () => {
    for (const byte of [0xff, 0xfe]) {
      const bytes = Buffer.concat([Buffer.from(`{"event_id":"ev-`), Buffer.from([byte]), Buffer.from(`","user_id":"${ALICE}","interaction_type":"login"}`)]);
      const result = await ingest()(rawPost('/metrics/interaction', bytes));
      expect(result.statusCode).toBe(400);
      expect(parse(result)).toMatchObject({ error: 'invalid_json', message: 'the body is not valid UTF-8' });
    }
    expect(await countRows(db, 'interactions')).toBe(0);
  });

  it('refuses an event_id holding U+FFFD, which is what API Gateway text bodies may carry for such bytes', async () => {
    const result = await ingest()(post('/metrics/interaction', { event_id: 'ev-\uFFFD', user_id: ALICE, interaction_type: 'login' }));
    expect(result.statusCode).toBe(400);
    expect(fields(result)).toEqual(['event_id']);
  });
});

describe('metadata means what docs/api.md says', () => {
  it.each([
    ['1e309 (Infinity, stored as null)', '{"amount":1e309}', 'metadata.amount'],
    ['12345678901234567890 (stored as 12345678901234567000)', '{"big":12345678901234567890}', 'metadata.big'],
    ['1e-400 (stored as 0)', '{"tiny":[1,1e-400]}', 'metadata.tiny.1'],
    ['a key given twice (the first silently dropped)', '{"a":1,"a":2}', 'metadata.a'],
  ])('refuses %s with a 400 naming the field, on both routes', async (_name, metadata, field) => {
    const one = await ingest()(post('/metrics/interaction', single(metadata)));
    expect(one.statusCode).toBe(400);
    expect(fields(one)).toEqual([field]);
    const many = await ingest()(post('/metrics/interactions', batch(metadata)));
    expect(many.statusCode).toBe(400);
    expect(fields(many)).toEqual([`interactions.0.${field}`]);
    expect(await countRows(db, 'interactions')).toBe(0);
  });

  it('keeps __proto__ and every other key, and every number a double holds, as read back from the database', async () => {
    const metadata = '{"__proto__":{"x":1},"constructor":"c","n":[1.50,15e-1,-0,0.1,9007199254740991,1e21,-2.5e-7]}';
    expect((await ingest()(post('/metrics/interaction', single(metadata, 'kept')))).statusCode).toBe(202);
    expect(JSON.parse(await storedMetadata('kept'))).toEqual(JSON.parse('{"__proto__":{"x":1},"constructor":"c","n":[1.5,1.5,0,0.1,9007199254740991,1e21,-2.5e-7]}'));
    const [row] = await db.query<{ proto: string }>("SELECT metadata->'__proto__'->>'x' AS proto FROM interactions WHERE event_id = 'kept'");
    expect(row!.proto).toBe('1');
  });
});

describe('Content-Encoding', () => {
  it('answers 415 for a gzip body (it was 400 invalid_json) and accepts identity', async () => {
    const body = JSON.stringify({ user_id: ALICE, interaction_type: 'login' });
    const gzipped = await ingest()(rawPost('/metrics/interaction', gzipSync(body), { 'content-encoding': 'gzip' }));
    expect(gzipped.statusCode).toBe(415);
    expect(parse(gzipped)).toMatchObject({ error: 'unsupported_media_type', message: expect.stringContaining('content-encoding gzip') });
    expect((await ingest()(post('/metrics/interaction', body, { 'content-encoding': 'identity' }))).statusCode).toBe(202);
    expect(await countRows(db, 'interactions')).toBe(1);
  });
});

describe('the body is UTF-8 JSON, and a client told so when it is not', () => {
  const body = JSON.stringify({ user_id: ALICE, interaction_type: 'login' });

  it('refuses a UTF-8 byte order mark with 400 invalid_json saying so (it was "not valid JSON"), on both routes', async () => {
    const bom = Buffer.from([0xef, 0xbb, 0xbf]);
    for (const [path, text] of [['/metrics/interaction', body], ['/metrics/interactions', `{"interactions":[${body}]}`]] as const) {
      const result = await ingest()(rawPost(path, Buffer.concat([bom, Buffer.from(text)])));
      expect(result.statusCode).toBe(400);
      expect(parse(result)).toMatchObject({ error: 'invalid_json', message: expect.stringContaining('byte order mark') });
    }
    expect(await countRows(db, 'interactions')).toBe(0);
  });

  it('refuses a charset other than UTF-8 with 415 naming it (latin1 was read as UTF-8), and takes utf-8 however written', async () => {
    for (const charset of ['latin1', 'ISO-8859-1', '"utf-16"', 'windows-1252']) {
      const result = await ingest()(post('/metrics/interaction', body, { 'content-type': `application/json; charset=${charset}` }));
      expect(result.statusCode).toBe(415);
      expect(parse(result)).toMatchObject({ error: 'unsupported_media_type', message: expect.stringContaining(`charset ${charset.replaceAll('"', '')} is not supported`) });
    }
    expect(await countRows(db, 'interactions')).toBe(0);
    for (const [n, charset] of ['utf-8', 'UTF-8', 'utf8', '"utf-8"'].entries()) {
      const event = post('/metrics/interaction', { event_id: `cs-${n}`, user_id: ALICE, interaction_type: 'login' }, { 'content-type': `application/json; charset=${charset}` });
      expect((await ingest()(event)).statusCode).toBe(202);
    }
  });
});

describe('the local server over a real socket', () => {
  let service: LocalService;
  beforeAll(async () => {
    service = await startLocalService(localServiceEnv({ DATA_DIR: 'memory' }), { print: () => {} });
  }, 120_000);
  afterAll(async () => {
    await service?.close();
  });

  /** Sends `head`, then `chunk` (chunked) until the server closes the connection or `maxBytes` went out. */
  function pour(head: string, chunk: Buffer | null, maxBytes: number): Promise<{ sent: number; response: string }> {
    const { port } = new URL(service.url);
    return new Promise((resolve) => {
      let sent = 0;
      let response = '';
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(head);
        const pump = () => {
          while (chunk && !socket.destroyed && sent < maxBytes) {
            sent += chunk.length;
            socket.write(`${chunk.length.toString(16)}\r\n`);
            socket.write(chunk);
            if (!socket.write('\r\n')) return void socket.once('drain', pump);
          }
          if (chunk && sent >= maxBytes) socket.destroy();
        };
        pump();
      });
      socket.on('data', (data) => void (response += data.toString('latin1')));
      socket.on('error', () => {});
      socket.on('close', () => resolve({ sent, response }));
    });
  }

  it('cuts an endless chunked body off: 413, Connection: close, and the socket closed after a bounded number of bytes', async () => {
    const head = 'POST /metrics/interactions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n';
    const { sent, response } = await pour(head, Buffer.alloc(64 * 1024, 0x20), 256 * 1024 * 1024);
    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response.toLowerCase()).toContain('connection: close');
    // 1 MB of limit plus what the kernel's socket buffers hold; the old server read all 256 MB.
    expect(sent).toBeLessThan(32 * 1024 * 1024);
    console.log(`endless chunked body: the connection closed after ${(sent / 1024 / 1024).toFixed(1)} MB sent`);
  }, 60_000);

  it('answers 413 at once to a Content-Length over the limit, without waiting for the body', async () => {
    const head = 'POST /metrics/interactions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 10000000000\r\n\r\n';
    const { response } = await pour(head, null, 0);
    expect(response).toMatch(/^HTTP\/1\.1 413 /);
    expect(response).toContain('payload_too_large');
  }, 20_000);

  it('refuses raw bytes that are not UTF-8 with 400 invalid_json and stores nothing', async () => {
    const before = await countRows(service.db, 'interactions');
    const body = Buffer.concat([Buffer.from('{"event_id":"ev-'), Buffer.from([0xff]), Buffer.from(`","user_id":"${ALICE}","interaction_type":"login"}`)]);
    const response = await fetch(`${service.url}/metrics/interaction`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(response.status).toBe(400);
    expect((await response.json()).error).toBe('invalid_json');
    expect(await countRows(service.db, 'interactions')).toBe(before);
  });

  it('property: random and mutated bytes over HTTP never get a 5xx, and a refusal stores nothing', async () => {
    const valid = Buffer.from(single('{"plan":"trial","n":1}', 'http-valid'));
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 300 }).map((array) => Buffer.from(array)),
      fc.tuple(fc.nat(valid.length), fc.uint8Array({ minLength: 1, maxLength: 8 })).map(([at, insert]) => Buffer.concat([valid.subarray(0, at), Buffer.from(insert), valid.subarray(at)])),
    );
    await fc.assert(
      fc.asyncProperty(bytes, async (body) => {
        const before = await countRows(service.db, 'interactions');
        const response = await fetch(`${service.url}/metrics/interaction`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await response.arrayBuffer();
        expect(response.status).toBeLessThan(500);
        if (response.status >= 400) expect(await countRows(service.db, 'interactions')).toBe(before);
      }),
      { numRuns: 60 },
    );
  }, 120_000);
});

describe('property: the ingest handler on PGlite', () => {
  const metadataValue = fc.jsonValue({ maxDepth: 4 });
  const mutation = fc.oneof(
    fc.constant((text: string) => text),
    fc.tuple(fc.nat(), fc.string({ unit: 'binary', maxLength: 4 })).map(([at, insert]) => (text: string) => text.slice(0, at % (text.length + 1)) + insert + text.slice(at % (text.length + 1))),
    fc.tuple(fc.nat(), fc.nat(20)).map(([at, length]) => (text: string) => text.slice(0, at % (text.length + 1)) + text.slice((at % (text.length + 1)) + length)),
    fc.constantFrom('1e309', '-0', '12345678901234567890', '"\\u0000"', '"\\ud800"', '[]', 'null', '{}', '"\uFFFD"').chain((value) =>
      fc.nat().map((at) => (text: string) => {
        const spots = [...text.matchAll(/(?<=:)("[^"]*"|[-0-9.e]+|true|false|null|\{\}|\[\])/g)];
        const spot = spots[at % Math.max(spots.length, 1)];
        return spot ? text.slice(0, spot.index) + value + text.slice(spot.index! + spot[0].length) : text;
      }),
    ),
    fc.integer({ min: 1, max: 6000 }).map((depth) => (text: string) => text.replace('"metadata":', `"metadata":${'{"a":'.repeat(depth)}`).replace(/}$/, '}'.repeat(depth + 1))),
  );
  let sequence = 0;

  it('never answers 5xx; a refusal changes no row; an acceptance stores the interaction once, its metadata as sent', async () => {
    const handler = ingest();
    await fc.assert(
      fc.asyncProperty(fc.boolean(), metadataValue, mutation, fc.boolean(), async (asBatch, metadata, mutate, raw) => {
        const eventId = `p-${++sequence}`;
        const item = JSON.stringify({ event_id: eventId, user_id: ALICE, interaction_type: 'login', metadata: { value: metadata } });
        const text = mutate(asBatch ? `{"interactions":[${item}]}` : item);
        const path = asBatch ? '/metrics/interactions' : '/metrics/interaction';
        const before = { interactions: await countRows(db, 'interactions'), users: await countRows(db, 'users') };
        const result = await handler(raw ? rawPost(path, Buffer.from(text, 'latin1')) : post(path, text));
        expect(result.statusCode).toBeLessThan(500);
        const after = { interactions: await countRows(db, 'interactions'), users: await countRows(db, 'users') };
        if (result.statusCode >= 400) expect(after).toEqual(before);
        if (result.statusCode === 202) {
          const ids: string[] = asBatch ? parse(result).results.map((verdict: { event_id: string }) => verdict.event_id) : [parse(result).event_id];
          expect(after.interactions - before.interactions).toBe(ids.length);
          for (const id of ids) {
            const [stored] = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM interactions WHERE event_id = :id', { id });
            expect(stored!.n).toBe(1);
          }
          if (text === (asBatch ? `{"interactions":[${item}]}` : item)) {
            // As sent (JSON.stringify already wrote -0 as 0, which is all PostgreSQL numbers can hold).
            expect(JSON.parse(await storedMetadata(eventId))).toEqual(JSON.parse(JSON.stringify({ value: metadata })));
          }
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);
});
