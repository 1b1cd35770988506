import { readFileSync } from 'node:fs';
import { parseTopology, TopologyError } from '../actors/inspect/topology/parse.ts';
import type { Topology } from '../actors/inspect/topology/schema.ts';
import { badInput } from './cli-error.ts';

/** A file's text, or bad input naming the file and why it cannot be read. */
export function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    badInput(
      `${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : String(code)}`,
    );
  }
}

/** A topology file, checked: a malformed one is `file:line:col: problem` and exit 2. */
export function readTopologyFile(file: string): { text: string; topology: Topology } {
  const text = readText(file);
  try {
    return { text, topology: parseTopology(text, file) };
  } catch (err) {
    if (err instanceof TopologyError) badInput(err.message);
    throw err;
  }
}
