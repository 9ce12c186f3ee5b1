// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const coreFolders = ['packages/*/src/**/core/**/*.ts'];

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { parserOptions: { projectService: false } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
      eqeqeq: ['error', 'always'],
    },
  },
  {
    // Pure cores: no I/O, no clocks, no timers, no randomness. The driver injects all of these, so a
    // simulation replays the same run from a seed.
    files: coreFolders,
    ignores: ['**/*.test.ts'],
    rules: {
      'no-restricted-imports': ['error', {
        patterns: [
          { group: ['node:*', 'fs', 'path', 'net', 'os', 'crypto', 'timers', 'events', 'stream', 'child_process'], message: 'core code is pure: no Node I/O modules' },
          { group: ['@grpc/*', 'level', 'pino', 'pino-*'], message: 'core code is pure: I/O belongs to the driver' },
        ],
      }],
      'no-restricted-globals': ['error',
        { name: 'setTimeout', message: 'core code counts tick() calls instead of using timers' },
        { name: 'setInterval', message: 'core code counts tick() calls instead of using timers' },
        { name: 'setImmediate', message: 'core code counts tick() calls instead of using timers' },
        { name: 'queueMicrotask', message: 'core code is synchronous' },
        { name: 'Date', message: 'core code has no clock: inject one' },
        { name: 'performance', message: 'core code has no clock: inject one' },
        { name: 'process', message: 'core code has no process access' },
        { name: 'Buffer', message: 'core code uses Uint8Array; Buffer is a Node I/O type' },
        { name: 'Promise', message: 'core code is synchronous' },
      ],
      'no-restricted-properties': ['error',
        { object: 'Math', property: 'random', message: 'inject a seeded PRNG' },
      ],
      'no-restricted-syntax': ['error',
        { selector: 'FunctionDeclaration[async=true], ArrowFunctionExpression[async=true], FunctionExpression[async=true]', message: 'core code is synchronous' },
      ],
    },
  },
  {
    files: ['scripts/**/*.{js,mjs}', 'packages/cli/bin/*.mjs', 'test-e2e/**/*.{js,mjs,ts}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', Buffer: 'readonly', URL: 'readonly', fetch: 'readonly', AbortSignal: 'readonly' } },
    rules: { 'no-console': 'off' },
  },
);
