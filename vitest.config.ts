import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages resolve to their TypeScript sources in tests (the "source" export condition),
  // for both vitest's client and server (Node) module graphs.
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    // One file at a time, and one project after the other (sequence.groupOrder: vitest otherwise runs
    // projects side by side): the e2e clusters run on 2-second broker sessions and must not share the
    // two cores with the seeded simulations or with the container clusters (a starved broker gets
    // fenced), and e2e files bind fixed loopback ports.
    fileParallelism: false,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          sequence: { groupOrder: 0 },
          testTimeout: 30_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test-e2e/**/*.test.ts'],
          sequence: { groupOrder: 1 },
          exclude: ['test-e2e/containers/**', '**/node_modules/**'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          // Each e2e file runs its own cluster on fixed loopback ports: run files one at a time. The
          // ports stay below 32768, Linux's ephemeral range, so no outgoing connection or port-0
          // listener can hold one when a node binds it.
          fileParallelism: false,
          pool: 'forks',
        },
      },
      {
        extends: true,
        test: {
          // 3-node clusters as Docker containers (test-e2e/containers/). The global setup finds the
          // Docker engine and builds the image; without an engine every file here is skipped with one
          // message. The compose smoke test publishes 9092/9192/9292, like the dev cluster.
          name: 'containers',
          include: ['test-e2e/containers/**/*.test.ts'],
          sequence: { groupOrder: 2 },
          globalSetup: ['test-e2e/containers/global-setup.ts'],
          env: { TESTCONTAINERS_RYUK_DISABLED: 'true' },
          testTimeout: 240_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          pool: 'forks',
        },
      },
    ],
  },
});
