// Compiles the library to dist/: ESM JavaScript, declarations and source maps (tsconfig.build.json),
// then finishes what tsc leaves: .js specifiers in declarations and an executable node bin.
import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DIST = 'dist';
const BIN = join(DIST, 'bin', 'iommu-farm.js');

rmSync(DIST, { recursive: true, force: true });
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], {
  stdio: 'inherit',
});

// tsc rewrites `./x.ts` to `./x.js` in JavaScript but keeps `.ts` in declarations; consumers
// resolve either, but `.js` is what every TypeScript version and tool expects next to a .d.ts.
const RELATIVE_TS = /(from\s+|import\()(['"])(\.{1,2}\/[^'"]*?)\.ts\2/g;
for (const entry of readdirSync(DIST, { recursive: true, withFileTypes: true })) {
  if (!entry.isFile() || !entry.name.endsWith('.d.ts')) continue;
  const path = join(entry.parentPath, entry.name);
  const text = readFileSync(path, 'utf8');
  const fixed = text.replace(RELATIVE_TS, '$1$2$3.js$2');
  if (fixed !== text) writeFileSync(path, fixed);
}

// The source bin runs under tsx; the built one under plain node. Same line count, so the
// source map still lines up.
const bin = readFileSync(BIN, 'utf8').split('\n');
bin[0] = '#!/usr/bin/env node';
writeFileSync(BIN, bin.join('\n'));
chmodSync(BIN, 0o755);
