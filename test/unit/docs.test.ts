import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// README.md and docs/*.md: every relative link resolves, and every npm command they quote exists.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const docsIn = (root: string) => [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];
const scriptsIn = (root: string) => Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts);

const FENCE = /^(```|~~~)[^\n]*\n[\s\S]*?^\1[ \t]*$/gm;
const INLINE_CODE = /(`+)[^`]*?\1/g;

/** Text outside code, where a link is a link. */
const prose = (markdown: string) => markdown.replace(FENCE, '').replace(INLINE_CODE, '');

/** Code blocks, then code spans: where commands are quoted. */
const code = (markdown: string) => [
  ...[...markdown.matchAll(FENCE)].map((match) => match[0]),
  ...[...markdown.replace(FENCE, '').matchAll(INLINE_CODE)].map((match) => match[0]),
];

/** GitHub's heading anchors: lower case, punctuation and symbols dropped, spaces as hyphens, repeats numbered (github-slugger's rules). */
function headingAnchors(markdown: string): string[] {
  const seen = new Map<string, number>();
  return [...markdown.replace(FENCE, '').matchAll(/^#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$/gm)].map(([, text]) => {
    const visible = text!.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1');
    const slug = visible.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '').replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    return count === 0 ? slug : `${slug}-${count}`;
  });
}

/** Targets of inline links and images, and of reference definitions, outside code. */
function linkTargets(markdown: string): string[] {
  const text = prose(markdown);
  const inline = [...text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
  const references = [...text.matchAll(/^ {0,3}\[[^\]]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+"[^"]*")?[ \t]*$/gm)].map((match) => match[1]!);
  return [...inline, ...references];
}

/** What is wrong with each relative link of `file` (a path inside `root`), as "file: target (why)". */
function brokenLinks(root: string, file: string): string[] {
  const problems: string[] = [];
  const source = join(root, file);
  for (const target of linkTargets(readFileSync(source, 'utf8'))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [path = '', anchor] = target.split('#', 2);
    const resolved = path === '' ? source : resolve(dirname(source), decodeURI(path));
    const shown = relative(root, resolved);
    if (!resolved.startsWith(root.endsWith(sep) ? root : root + sep)) {
      problems.push(`${file}: ${target} (outside the repository)`);
    } else if (!existsSync(resolved)) {
      problems.push(`${file}: ${target} (no such file: ${shown})`);
    } else if (anchor !== undefined) {
      if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
        problems.push(`${file}: ${target} (an anchor into ${shown}, which is not markdown)`);
      } else if (!headingAnchors(readFileSync(resolved, 'utf8')).includes(anchor)) {
        problems.push(`${file}: ${target} (no heading in ${shown} has the anchor #${anchor})`);
      }
    }
  }
  return problems;
}

// npm's own commands (npm 11's lib/utils/cmd-list.js) that run no package.json script, as the docs quote them.
const NPM_COMMANDS = new Set(['ci', 'install', 'i', 'run', 'help', 'ls', 'exec', 'pack', 'audit', 'outdated', 'pkg', 'install-scripts', 'approve-scripts', 'deny-scripts']);
// npm's commands that run the package.json script of the same name.
const LIFECYCLE = new Set(['test', 'start', 'stop', 'restart']);

/** Each npm command quoted in code that runs a script package.json lacks, or that npm itself lacks. */
function unknownNpmCommands(markdown: string, scripts: readonly string[]): string[] {
  const problems: string[] = [];
  for (const block of code(markdown)) {
    for (const [, run, name] of block.matchAll(/\bnpm[ \t]+(run(?:-script)?[ \t]+)?([a-z](?:[\w:.-]*\w)?)/g)) {
      if (run || LIFECYCLE.has(name!)) {
        if (!scripts.includes(name!)) problems.push(`npm ${run ?? ''}${name}: package.json has no script "${name}"`);
      } else if (!NPM_COMMANDS.has(name!)) {
        problems.push(`npm ${name}: not an npm command (a package.json script runs as npm run ${name})`);
      }
    }
  }
  return problems;
}

describe('the docs', () => {
  const docs = docsIn(ROOT);
  const scripts = scriptsIn(ROOT);

  it('are README.md and the files in docs/', () => {
    expect(docs).toContain('docs/api.md');
  });

  it.each(docs)('%s: every relative link resolves, anchors included', (file) => {
    expect(brokenLinks(ROOT, file)).toEqual([]);
  });

  it.each(docs)('%s: every npm command quoted names a script or a command that exists', (file) => {
    expect(unknownNpmCommands(readFileSync(join(ROOT, file), 'utf8'), scripts)).toEqual([]);
  });
});

describe('the docs checks', () => {
  // A small repository of real files, so the checks read the file system as they do above.
  const root = mkdtempSync(join(tmpdir(), 'days-since-docs-'));
  const write = (file: string, text: string) => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  write(
    'README.md',
    [
      '# Title',
      'See [the API](docs/api.md#post-metricsinteraction), [setup](#quick-start), [a gone file](docs/gone.md),',
      '[a gone heading](docs/api.md#nowhere), [the web](https://example.com/#x), ![a picture](docs/shot.png),',
      '[an anchor in a picture](docs/shot.png#top) and [out](../elsewhere.md).',
      '```bash',
      '[not a link](nowhere.md)',
      '```',
      '## Quick start',
      '[ref]: docs/missing.md',
    ].join('\n'),
  );
  write('docs/api.md', '# API\n### `POST /metrics/interaction`\n## Self-hosting on PostgreSQL (DATABASE_URL)\n## Errors\n## Errors\n');
  write('docs/shot.png', '');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('report a missing file, a missing heading, an anchor into a picture and a link out, and nothing else', () => {
    expect(brokenLinks(root, 'README.md')).toEqual([
      'README.md: docs/gone.md (no such file: docs/gone.md)',
      'README.md: docs/api.md#nowhere (no heading in docs/api.md has the anchor #nowhere)',
      'README.md: docs/shot.png#top (an anchor into docs/shot.png, which is not markdown)',
      'README.md: ../elsewhere.md (outside the repository)',
      'README.md: docs/missing.md (no such file: docs/missing.md)',
    ]);
  });

  it('slug headings as GitHub does', () => {
    expect(headingAnchors(readFileSync(join(root, 'docs/api.md'), 'utf8'))).toEqual([
      'api',
      'post-metricsinteraction',
      'self-hosting-on-postgresql-database_url',
      'errors',
      'errors-1',
    ]);
  });

  it('report a script package.json lacks and a command npm lacks, in code only', () => {
    const markdown = ['Run `npm run bench` or `npm run benchmark`.', '```bash', 'npm ci && npm test', 'npm bench', '# npm start: the server', '```', 'The npm registry.'].join('\n');
    expect(unknownNpmCommands(markdown, ['bench', 'test', 'start'])).toEqual([
      'npm bench: not an npm command (a package.json script runs as npm run bench)',
      'npm run benchmark: package.json has no script "benchmark"',
    ]);
    expect(unknownNpmCommands('```\nnpm start\n```', ['test'])).toEqual(['npm start: package.json has no script "start"']);
  });
});
