import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';

/** The value the stack stores in the secret it creates, until someone pastes a real webhook URL in. */
export const WEBHOOK_NOT_CONNECTED = 'not-connected: put the Slack incoming webhook URL here';

/** A webhook URL that cannot be used. Names where it came from, never what it holds. */
export class WebhookUrlError extends Error {
  override name = 'WebhookUrlError';
  constructor(source: string, problem: string) {
    super(`${source} ${problem}`);
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Checks a webhook URL: https, or plain http to this machine only (a local stand-in for Slack).
 * Returns null for "not connected yet" (empty or the placeholder), so alerts are logged instead of failing.
 */
export function webhookUrlFrom(raw: string | undefined, source: string): URL | null {
  const value = raw?.trim() ?? '';
  if (value === '' || !/^https?:/i.test(value)) return null;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new WebhookUrlError(source, 'is not a valid URL');
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname))) return url;
  throw new WebhookUrlError(source, 'must be an https:// URL (plain http only to 127.0.0.1 or localhost)');
}

/** Where the webhook URL comes from; `forget` drops a kept URL that Slack has refused. */
export interface WebhookUrlSource {
  (): Promise<URL | null>;
  forget?: () => void;
}

/**
 * The webhook URL from Secrets Manager, read on first use and kept for the life of the Lambda environment.
 * Only a usable URL is kept: after "not connected", a failed read or `forget` (Slack refused it), the next
 * invocation reads again, so pasting a new URL into the secret takes effect without a deployment.
 */
export function webhookFromSecret(client: SecretsManagerClient, secretId: string): WebhookUrlSource {
  let known: URL | undefined;
  const read: WebhookUrlSource = async () => {
    if (known) return known;
    const output = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    const url = webhookUrlFrom(output.SecretString, 'the Slack webhook secret');
    if (url) known = url;
    return url;
  };
  read.forget = () => {
    known = undefined;
  };
  return read;
}
