/**
 * The published package, as a dependent sees it: `npm pack` once (prepack builds dist/), install
 * the tarball into a fresh project (xstate, rxjs and fast-check from the npm cache that `npm ci`
 * filled), then use it from plain Node, from strict TypeScript and through its bin.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');
const FIXTURE = join(import.meta.dirname, 'fixture');
const TSC = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
// Generous: a build, a pack and an install, on a shared 2-core machine.
const SETUP_MS = 300_000;
const STEP_MS = 120_000;

interface PackedFile {
  readonly path: string;
  readonly mode: number;
}

let work = '';
let project = '';
let files: PackedFile[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'iommu-farm-pack-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: REPO,
    maxBuffer: 64 << 20,
  });
  // prepack's build output precedes the JSON report on stdout.
  const [report] = JSON.parse(stdout.slice(stdout.indexOf('\n[') + 1)) as {
    filename: string;
    files: PackedFile[];
  }[];
  if (!report) throw new Error(`npm pack printed no report:\n${stdout}`);
  files = report.files;
  project = join(work, 'consumer');
  await mkdir(project);
  await writeFile(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
  );
  // A Node consumer has Node's types (rxjs's declarations need its timers): the repo's pin.
  const { devDependencies } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>;
  };
  const install = [join(work, report.filename), `@types/node@${devDependencies['@types/node']}`];
  await run(
    'npm',
    ['install', ...install, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
    {
      cwd: project,
    },
  );
}, SETUP_MS);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the packed iommu-farm', () => {
  test(
    'ships dist, README and package.json only, with an executable bin',
    () => {
      const paths = files.map((f) => f.path);
      expect(paths).toEqual(
        expect.arrayContaining([
          'package.json',
          'README.md',
          'dist/index.js',
          'dist/index.d.ts',
          'dist/props/index.js',
          'dist/props/index.d.ts',
          'dist/bin/iommu-farm.js',
        ]),
      );
      const stray = paths.filter(
        (p) => !p.startsWith('dist/') && !['package.json', 'README.md', 'LICENSE'].includes(p),
      );
      expect(stray).toEqual([]);
      expect(paths.filter((p) => /^(dist\/)?(test|bench|\.ci|examples|scripts)\//.test(p))).toEqual([]);
      expect(paths.filter((p) => p.endsWith('.ts') && !p.endsWith('.d.ts'))).toEqual([]);
      const bin = files.find((f) => f.path === 'dist/bin/iommu-farm.js');
      expect((bin?.mode ?? 0) & 0o111).not.toBe(0);
    },
    STEP_MS,
  );

  test(
    'runs from plain Node ESM: map, DMA, unmap, fault; iommu-farm/props resolves',
    async () => {
      await copyFile(join(FIXTURE, 'consumer.mjs'), join(project, 'consumer.mjs'));
      const { stdout } = await run(process.execPath, ['consumer.mjs'], { cwd: project });
      expect(JSON.parse(stdout)).toEqual({
        read: 'packed',
        fault: 'not-present',
        errno: 'ENOENT',
        invariants: expect.any(Number),
      });
      expect(JSON.parse(stdout).invariants).toBeGreaterThan(0);
    },
    STEP_MS,
  );

  test(
    'typechecks a strict nodenext consumer against the shipped declarations',
    async () => {
      await copyFile(join(FIXTURE, 'consumer.ts'), join(project, 'consumer.ts'));
      await writeFile(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'ES2022',
            lib: ['ES2023'],
            module: 'nodenext',
            moduleResolution: 'nodenext',
            strict: true,
            exactOptionalPropertyTypes: true,
            skipLibCheck: false,
            noEmit: true,
            types: ['node'],
          },
          files: ['consumer.ts'],
        }),
      );
      const result = await run(process.execPath, [TSC, '-p', '.', '--pretty', 'false'], {
        cwd: project,
      }).catch((err: { stdout: string }) => ({ stdout: err.stdout }));
      expect(result.stdout).toBe('');
    },
    STEP_MS,
  );

  test(
    'installs a working bin',
    async () => {
      const { stdout } = await run(join(project, 'node_modules', '.bin', 'iommu-farm'), ['props', '--help'], {
        cwd: project,
      });
      expect(stdout).toMatch(/usage: iommu-farm props/);
      const campaign = await run(
        join(project, 'node_modules', '.bin', 'iommu-farm'),
        ['props', '--vendor', 'mock', '--runs', '5', '--property', 'isolation'],
        { cwd: project },
      );
      expect(campaign.stdout).toMatch(/^isolation\s+mock\s+5\s+.*holds\s*$/m);
    },
    STEP_MS,
  );
});
