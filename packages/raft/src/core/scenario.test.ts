import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runScript } from './test-support.js';

// Scripted scenarios with golden traces (etcd/raft's data-driven tests): each testdata/<name>.txt is
// run and its trace compared with testdata/<name>.golden. UPDATE_GOLDEN=1 rewrites the goldens; a
// rewritten golden must be read and judged before it is kept, since it is the specification.
const testdataDir = join(dirname(fileURLToPath(import.meta.url)), 'testdata');
const scripts = readdirSync(testdataDir).filter((f) => f.endsWith('.txt')).sort();
const update = process.env['UPDATE_GOLDEN'] === '1';

describe('scripted scenarios', () => {
  it('has scenarios to run', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(5);
  });

  for (const file of scripts) {
    it(file.replace(/\.txt$/, ''), () => {
      const trace = runScript(readFileSync(join(testdataDir, file), 'utf8'));
      const goldenPath = join(testdataDir, file.replace(/\.txt$/, '.golden'));
      if (update) writeFileSync(goldenPath, trace);
      expect(trace).toBe(readFileSync(goldenPath, 'utf8'));
    });
  }
});
