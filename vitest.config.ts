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
  },
});
