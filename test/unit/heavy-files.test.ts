import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// .ci/run checks the heavy-first list against the run's timings with this script.
const SCRIPT = new URL('../../.ci/heavy-files.mjs', import.meta.url).pathname;
const LIST = new URL('../support/heavy-files.json', import.meta.url).pathname;
const run = promisify(execFile);

let folder: string;
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'days-since-heavy-files-'));
});
afterAll(() => rm(folder, { recursive: true, force: true }));

let written = 0;
async function check(timings: Record<string, number>, list: string[]): Promise<{ code: number; output: string }> {
  const timingsFile = join(folder, `timings-${written}.json`);
  const listFile = join(folder, `list-${written++}.json`);
  await writeFile(timingsFile, JSON.stringify(timings));
  await writeFile(listFile, JSON.stringify(list));
  try {
    const { stdout } = await run(process.execPath, [SCRIPT, timingsFile, listFile]);
    return { code: 0, output: stdout.trim() };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, output: failed.stderr.trim() };
  }
}

const A = 'pglite:test/a.test.ts';
const B = 'pglite:test/b.test.ts';
const C = 'postgres:test/c.test.ts';
const D = 'pglite:test/d.test.ts';

describe('.ci/heavy-files.mjs', () => {
  it('passes a list that holds the slow files, and names the slowest file off it', async () => {
    expect(await check({ [A]: 40_000, [B]: 30_000, [C]: 20_000, [D]: 5_000 }, [A, B, C])).toEqual({
      code: 0,
      output: `heavy-first list: 3 files, median 30.0 s; the slowest file off it: ${D} (5.0 s)`,
    });
  });

  it('fails a run where a file off the list took longer than the median listed file, naming it', async () => {
    const { code, output } = await check({ [A]: 40_000, [B]: 30_000, [C]: 20_000, [D]: 31_000 }, [A, B, C]);
    expect(code).toBe(1);
    expect(output).toContain(`${D} took 31.0 s, more than the median listed file (30.0 s): add it to the list`);
  });

  it('fails a list that names a file the run did not have (renamed or deleted)', async () => {
    const { code, output } = await check({ [A]: 40_000, [B]: 30_000 }, [A, B, C]);
    expect(code).toBe(1);
    expect(output).toContain(`${C} is listed but did not run: take it off the list`);
  });

  it('keeps the same path in another project apart: the engines run different files at different speeds', async () => {
    const { code, output } = await check({ [A]: 40_000, 'postgres:test/a.test.ts': 35_000, [B]: 30_000, [C]: 20_000 }, [A, B, C]);
    expect(code).toBe(1);
    expect(output).toContain('postgres:test/a.test.ts took 35.0 s');
  });

  it('the committed list names only test files that exist', async () => {
    const listed: string[] = JSON.parse(await readFile(LIST, 'utf8'));
    expect(listed.length).toBeGreaterThan(5);
    for (const entry of listed) {
      const [project, path] = entry.split(':');
      expect(['pglite', 'postgres', 'data-api']).toContain(project);
      await expect(readFile(new URL(`../../${path}`, import.meta.url)), entry).resolves.toBeDefined();
    }
  });
});
