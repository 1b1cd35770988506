import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IommufdError } from '../../actors/iommufd/errno.ts';
import { lit } from '../world/code.ts';
import type { FuzzCall } from './call.ts';
import type { Finding } from './finding.ts';
import { knownFinding } from './finding.ts';
import { Session, type SessionOptions } from './session.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MARK = '// @iommu-farm-fuzz ';

/** The call as the API call it makes, for the comment beside it in a script. */
export function apiOf(c: FuzzCall): string {
  const at = `p${c.p}`;
  switch (c.k) {
    case 'ioctl':
      return `${at} fd${c.fd}.ioctl(${lit(c.name)}, ${lit(c.fields)})${c.payload ? ' with a payload' : ''}`;
    case 'vfio':
      return `${at} vfio fd${c.fd}.ioctl(${lit(c.name)}, ${lit(c.fields)})`;
    case 'raw':
      return `${at} fd${c.fd}.ioctlRaw(0x${c.cmd.toString(16)}, ${c.arg === undefined ? `<${(c.struct?.length ?? 0) / 2} bytes ${c.struct}>` : lit(c.arg)})`;
    case 'open':
      return c.what === 'vfio' ? `${at}.openVfioDevice(${lit(c.dev)})` : `${at}.openIommufd()`;
    case 'close':
      return `${at}.close(${c.fd})`;
    case 'read':
      return `${at}.file(${c.fd}).read(${c.count})`;
    case 'write':
      return `${at}.file(${c.fd}).write(<${c.bytes}>)`;
    case 'poll':
      return `${at}.file(${c.fd}).poll()`;
    case 'mmap':
      return `${at}.mmap(${lit(c.length)}, { fd: ${c.fd}, offset: ${lit(c.offset)}, shared: true })`;
  }
}

/**
 * A standalone TypeScript reproduction (as props/runner/repro.ts writes them): the session
 * (vendor, farm and sweep seeds, fault switches), each call with the API call it makes and
 * what it returned on replay, then a throw while the finding is still there.
 */
export async function renderFuzzRepro(
  session: SessionOptions,
  calls: readonly FuzzCall[],
  finding: Finding,
  dir: string,
  campaignSeed?: number,
): Promise<string> {
  const rel = relative(dir, join(ROOT, 'props/index.ts')).replaceAll('\\', '/');
  const s = new Session(session);
  const body: string[] = [];
  // A hang blocks the thread: its script is written without running it.
  if (finding.kind === 'hang') {
    for (const c of calls) body.push(`// ${apiOf(c)}`, `await s.step(${lit(c)});`);
  }
  for (const c of finding.kind === 'hang' ? [] : calls) {
    const before = s.calls.length;
    const out = await s.step(c);
    if (s.calls.length === before) continue;
    const what = out.ok
      ? 'ok'
      : IommufdError.is(out.err)
        ? out.err.errno
        : `threw ${(out.err as Error)?.message}`;
    body.push(`// ${apiOf(c)} → ${what}`, `await s.step(${lit(c)});`);
    if (s.finding) break;
  }
  const known = knownFinding(finding, calls);
  return [
    `// iommu-farm fuzz reproduction: ${finding.kind} on ${finding.vendor}${known ? ` (${known})` : ''}`,
    `// ${finding.message}`,
    `// campaign seed ${campaignSeed ?? 'n/a'}; replay: npx tsx <this file>`,
    `${MARK}${JSON.stringify(session)}`,
    `import { FuzzSession } from '${rel.startsWith('.') ? rel : `./${rel}`}';`,
    '',
    `const s = new FuzzSession(${lit(session)});`,
    ...body,
    '',
    `if (s.finding) throw new Error(\`reproduced: \${s.finding.kind}: \${s.finding.message}\`);`,
    "console.log('no finding reproduced');",
    '',
  ].join('\n');
}

/** Writes `<dir>/fuzz-<vendor>-<kind>-<seed>.ts`; returns its path. */
export async function writeFuzzRepro(
  dir: string,
  session: SessionOptions,
  calls: readonly FuzzCall[],
  finding: Finding,
  campaignSeed: number,
  n = 0,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = join(dir, `fuzz-${finding.vendor}-${finding.kind}-${campaignSeed}-${n}.ts`);
  await writeFile(file, await renderFuzzRepro(session, calls, finding, dir, campaignSeed));
  return file;
}
