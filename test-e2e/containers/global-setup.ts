// Once per `vitest run` of the containers project: find a Docker engine (or say, once, why every
// container test is skipped), and build the image the drills run (scripts/build-image.sh, from the
// packages' dist as `pnpm build` left it) unless RUNNEL_IMAGE names another image.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import type { TestProject } from 'vitest/node';

// Node's own resolution from this file: vitest resolves global-setup imports from the repo root,
// where test-e2e's dependencies are not visible (pnpm keeps them in test-e2e/node_modules).
const { getContainerRuntimeClient } = createRequire(import.meta.url)('testcontainers') as typeof import('testcontainers');

declare module 'vitest' {
  export interface ProvidedContext {
    /** Why no Docker engine could be used; '' when one answers and the image is built. */
    dockerUnavailable: string;
  }
}

const DOCKER_PROBE_TIMEOUT_MS = 15_000;
const IMAGE_BUILD_TIMEOUT_MS = 300_000;
const REPO_ROOT = join(import.meta.dirname, '..', '..');
// The reaper container (Ryuk) cannot be pulled without a registry; the tests clean up themselves.
process.env['TESTCONTAINERS_RYUK_DISABLED'] ??= 'true';

async function dockerUnavailableReason(): Promise<string> {
  // The docker CLI first: scripts/build-image.sh and the compose test drive the engine through it
  // (honouring DOCKER_HOST), testcontainers through its own client below.
  try {
    execFileSync('docker', ['version', '--format', '{{.Server.Version}}'], { stdio: ['ignore', 'pipe', 'pipe'], timeout: DOCKER_PROBE_TIMEOUT_MS });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim().split('\n').pop();
    return `\`docker version\` failed: ${stderr !== undefined && stderr !== '' ? stderr : (error as Error).message.split('\n')[0]}`;
  }
  // Only the probe is caught: a missing package or a broken import is a failure, not a skip.
  try {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${DOCKER_PROBE_TIMEOUT_MS} ms`)), DOCKER_PROBE_TIMEOUT_MS);
    });
    try {
      const client = await Promise.race([getContainerRuntimeClient(), timeout]);
      await Promise.race([client.container.dockerode.ping(), timeout]);
    } finally {
      clearTimeout(timer);
    }
    return '';
  } catch (error) {
    return (error as Error).message.split('\n')[0] ?? String(error);
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const reason = await dockerUnavailableReason();
  if (reason !== '') {
    process.stderr.write(`\n[containers] SKIPPING every container test: no Docker engine can be reached (${reason}). `
      + 'Start dockerd (see docs/containers.md); CI does so in scripts/ci-docker.sh.\n\n');
    project.provide('dockerUnavailable', reason);
    return;
  }
  const image = process.env['RUNNEL_IMAGE'];
  if (image === undefined || image === 'runnel:local') {
    const started = Date.now();
    execFileSync('bash', [join(REPO_ROOT, 'scripts', 'build-image.sh')], {
      cwd: REPO_ROOT,
      env: { ...process.env, RUNNEL_SKIP_BUILD: '1' },
      stdio: ['ignore', 'inherit', 'inherit'],
      timeout: IMAGE_BUILD_TIMEOUT_MS,
    });
    process.stderr.write(`[containers] image built in ${Date.now() - started} ms\n`);
  }
  project.provide('dockerUnavailable', '');
}
