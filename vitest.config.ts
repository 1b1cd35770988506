import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests run in Vite's server environment. The package's own name resolves to its source (the
  // `iommu-farm:source` export condition), so tests and examples import 'iommu-farm' without a
  // build; the rest are Vite's default server conditions.
  ssr: { resolve: { conditions: ['iommu-farm:source', 'module', 'node', 'development|production'] } },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 30_000,
    pool: 'threads',
    // Test files share each worker's module cache: the simulation holds no module-level
    // mutable state, and re-importing it per file cost 20x the tests themselves (setup
    // 450 s vs 19 s over test/uapi + test/unit/runtime).
    isolate: false,
  },
});
