import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalService, type LocalService } from '../../functions/local/service.js';
import { folderWithFreshCluster } from '../support/pglite-template.js';
import { localServiceEnv } from '../support/engines.js';

// The README's quick start, run as written against `npm start`'s service: its first POST must count, and the number
// it reads next must be active. Only the address changes (a free port instead of 9001, which may be taken here).

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const run = promisify(execFile);

/** The shell blocks of the README's "Quick start" section, in order. */
function quickStartBlocks(): string[] {
  const section = README.split(/^## /m).find((part) => part.startsWith('Quick start'))!;
  return [...section.matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

let service: LocalService | undefined;
let dir: string | undefined;
afterAll(async () => {
  await service?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the README's quick start", () => {
  it('records its first interaction as counted, and the number it reads next is active', async () => {
    const [start, firstSteps] = quickStartBlocks();
    expect(start).toContain('npm start');
    expect(firstSteps).toMatch(/^curl -s -X POST http:\/\/localhost:9001\/metrics\/interaction/);
    // A fresh install, exactly as `npm start` serves one (no configuration but the test's shared buffers).
    dir = await folderWithFreshCluster('days-since-quick-start-');
    service = await startLocalService(localServiceEnv({ DATA_DIR: dir }), { print: () => {} });
    const commands = firstSteps!.replaceAll('http://localhost:9001', service.url);
    const { stdout } = await run('bash', ['-c', commands], { timeout: 20_000 });
    // curl -s prints no newline of its own: the two answers arrive back to back.
    const [recorded, headline] = stdout.replace(/}\s*{/g, '}\n{').split('\n').map((line) => JSON.parse(line));
    expect(recorded).toMatchObject({ status: 'recorded', counted: true, reason: null });
    expect(headline).toMatchObject({ metric: 'days_since_last_real_user_interaction', status: 'active', total_users: 1 });
    expect(headline.value).toBeLessThan(0.01);
  }, 60_000);
});
