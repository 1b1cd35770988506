// The harness's own tests (arbitraries, commands, the model, interleavings, reproduction), in
// one file so the suite pays vitest's per-file start-up once for them.
import './arbitraries.cases.ts';
import './commands.cases.ts';
import './model.cases.ts';
import './interleavings.cases.ts';
import './repro.cases.ts';
