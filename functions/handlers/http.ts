import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { FieldProblem } from '../core/interaction.js';
import { silentlyChangedValues } from '../core/json-text.js';
import { outageOf, sqlStateOf } from '../db/outage.js';
import type { DatabaseUnavailableError } from '../db/port.js';

export type ApiEvent = Pick<APIGatewayProxyEvent, 'httpMethod' | 'path' | 'headers' | 'body' | 'isBase64Encoded' | 'queryStringParameters'>;
export type ApiResult = APIGatewayProxyResult;
export type ApiHandler = (event: ApiEvent) => Promise<ApiResult>;

const JSON_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' };

export function jsonResult(statusCode: number, body: unknown, headers: Record<string, string> = {}): ApiResult {
  return { statusCode, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

/** A request the client must change before retrying. `code` is stable for programs, `message` is for people. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly problems: FieldProblem[] = [],
  ) {
    super(message);
  }
}

export const invalid = (problems: FieldProblem[]) =>
  new RequestError(
    400,
    'invalid_request',
    problems.length === 1 ? `${problems[0]!.field} ${problems[0]!.message}` : `${problems.length} problems with the request`,
    problems,
  );

export function header(event: ApiEvent, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) if (key.toLowerCase() === wanted) return value ?? undefined;
  return undefined;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The JSON body, checked for type, encoding and size before it is parsed, and refused rather than changed:
 * invalid UTF-8 (which would be read as U+FFFD), numbers a double cannot hold, keys given twice.
 */
export function jsonBody(event: ApiEvent, maxBytes: number): unknown {
  const contentType = header(event, 'content-type') ?? '';
  if (!/^application\/json\s*(;|$)/i.test(contentType)) {
    throw new RequestError(415, 'unsupported_media_type', 'content-type must be application/json');
  }
  // JSON is UTF-8 (RFC 8259, section 8.1): a body declared in another charset would be read wrong, so it is refused.
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType)?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new RequestError(415, 'unsupported_media_type', `charset ${charset} is not supported: send the body as UTF-8 (charset=utf-8, or no charset)`);
  }
  // API Gateway passes a compressed body through as is (content encoding is off on the API), so none is read here either.
  const encoding = header(event, 'content-encoding')?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    throw new RequestError(415, 'unsupported_media_type', `content-encoding ${encoding} is not supported: send the body uncompressed`);
  }
  const raw = event.isBase64Encoded ? Buffer.from(event.body ?? '', 'base64') : Buffer.from(event.body ?? '', 'utf8');
  if (raw.byteLength > maxBytes) {
    throw new RequestError(413, 'payload_too_large', `the body must be at most ${maxBytes} bytes, got ${raw.byteLength}`);
  }
  if (raw.byteLength === 0) throw new RequestError(400, 'invalid_json', 'the body is empty: send a JSON object');
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw new RequestError(400, 'invalid_json', 'the body is not valid UTF-8');
  }
  // RFC 8259 forbids a byte order mark in JSON sent over a network; JSON.parse would only say "invalid JSON".
  if (text.startsWith('\uFEFF')) {
    throw new RequestError(400, 'invalid_json', 'the body starts with a byte order mark (BOM, EF BB BF): send the JSON without it');
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new RequestError(400, 'invalid_json', 'the body is not valid JSON');
  }
  const changed = silentlyChangedValues(text);
  if (changed.length > 0) throw invalid(changed);
  return body;
}

export type ErrorLog = Pick<Logger, 'error' | 'warn'>;

/** 503 database_unavailable: what happened, and when to try again. */
export function unavailableResult(outage: DatabaseUnavailableError): ApiResult {
  return jsonResult(503, { error: 'database_unavailable', message: outage.message }, { 'retry-after': String(outage.retryAfterSeconds) });
}

/**
 * Maps what went wrong to an answer: the client's mistakes as 4xx with the field named, a database that cannot serve
 * now (asleep, stopped, unreachable, full) as 503 with Retry-After and what happened, anything else as a bare 500.
 * Nothing internal (stack, SQL) reaches the caller, and only the error's class and SQLSTATE or errno reach the log.
 */
export function errorResult(error: unknown, log: ErrorLog): ApiResult {
  if (error instanceof RequestError) {
    return jsonResult(error.statusCode, {
      error: error.code,
      message: error.message,
      ...(error.problems.length > 0 ? { problems: error.problems } : {}),
    });
  }
  const outage = outageOf(error);
  if (outage) {
    log.warn('database unavailable', { cause: outage.code ?? outage.message });
    return unavailableResult(outage);
  }
  log.error('request failed', { errorName: (error as Error)?.name ?? typeof error, sqlState: sqlStateOf(error) });
  return jsonResult(500, { error: 'internal_error', message: 'something went wrong on our side; it has been logged' });
}
