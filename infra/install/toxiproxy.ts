import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hasCommand, InstallError, type Progress, runLogged } from './exec.js';

/** Pinned so that the API the injector speaks (simulations/network.ts) does not move under it. */
export const TOXIPROXY_VERSION = 'v2.12.0';

const dirName = `toxiproxy-${TOXIPROXY_VERSION}`;

/** The Toxiproxy server; `go install` names it after its package directory, `server`. */
export const toxiproxyBinary = (cacheDir: string) => join(cacheDir, dirName, 'server');

/**
 * Builds the Toxiproxy server from the Go module proxy, once. Only a stack with link proxies
 * (FACTORY_LINK_PROXIES) needs it, so only such a stack pays for the build.
 */
export async function ensureToxiproxy(
  cacheDir: string,
  logFile: string,
  progress: Progress,
): Promise<string> {
  const bin = toxiproxyBinary(cacheDir);
  if (existsSync(bin)) return bin;
  if (!hasCommand('go')) {
    throw new InstallError(
      'The link proxies (FACTORY_LINK_PROXIES) need Toxiproxy, which is built with Go, but "go" is not on PATH: install Go 1.23 or newer (for example apt-get install golang) and run again, or leave FACTORY_LINK_PROXIES off.',
    );
  }
  progress(`building Toxiproxy ${TOXIPROXY_VERSION} with go install (once, about a minute)`);
  const staging = join(cacheDir, `${dirName}.partial`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await runLogged(
    'building toxiproxy',
    'go',
    ['install', `github.com/Shopify/toxiproxy/v2/cmd/server@${TOXIPROXY_VERSION}`],
    { logFile, progress, env: { GOBIN: staging } },
  );
  if (!existsSync(join(staging, 'server'))) {
    throw new InstallError(`go install finished but no toxiproxy server binary appeared; see ${logFile}.`);
  }
  rmSync(join(cacheDir, dirName), { recursive: true, force: true });
  renameSync(staging, join(cacheDir, dirName));
  return bin;
}
