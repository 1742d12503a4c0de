import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand, InstallError, type Progress, runLogged } from './exec.js';

/** v1.5.1 is the newest CLI whose go.mod `go install module@version` accepts (no replace lines). */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

export const temporalBinary = (cacheDir: string) =>
  join(cacheDir, `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'temporal');

/** Builds the temporal CLI (dev server and Web UI inside) from the Go module proxy, once. */
export async function ensureTemporal(cacheDir: string, logFile: string, progress: Progress): Promise<string> {
  const bin = temporalBinary(cacheDir);
  if (existsSync(bin)) return bin;
  if (!hasCommand('go')) {
    throw new InstallError(
      'The Temporal dev server is built with Go, but "go" is not on PATH: install Go 1.23 or newer (for example apt-get install golang) and run again.',
    );
  }
  progress(`building the temporal CLI ${TEMPORAL_CLI_VERSION} with go install (once, about 3 minutes)`);
  const staging = join(cacheDir, `temporal-cli-${TEMPORAL_CLI_VERSION}.partial`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await runLogged(
    'building temporal',
    'go',
    ['install', `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`],
    { logFile, progress, env: { GOBIN: staging } },
  );
  if (!existsSync(join(staging, 'temporal'))) {
    throw new InstallError(`go install finished but no temporal binary appeared; see ${logFile}.`);
  }
  rmSync(join(cacheDir, `temporal-cli-${TEMPORAL_CLI_VERSION}`), { recursive: true, force: true });
  renameSync(staging, join(cacheDir, `temporal-cli-${TEMPORAL_CLI_VERSION}`));
  return bin;
}
