import { spawn } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { projectRoot } from '../../common/config.js';
import { hasCommand, InstallError, type Progress, runLogged } from './exec.js';

/** Temporal's Java time-skipping test server, the one the SDK would download, from Maven Central. */
export const TEMPORAL_TEST_SERVER_VERSION = '1.38.0';

const MAIN_CLASS = 'io.temporal.testserver.TestServer';

/**
 * The SDK gives the server about 5 s to accept connections, which a cold JVM on two busy cores
 * misses: C1 only, the serial collector and a class-data-sharing archive of the classes a start
 * loads bring it to about a second. `-Xshare:auto` (the default) ignores an unusable archive.
 */
const JVM_FLAGS = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC'];

export const temporalTestServerDir = (cacheDir: string) =>
  join(cacheDir, `temporal-test-server-${TEMPORAL_TEST_SERVER_VERSION}`);

/**
 * Gathers the test server's jars with Maven into the cache, once, and returns an executable
 * that the SDK starts as `<path> <port>` (`existing-path`). Time skipping needs no flag: the
 * SDK's time-skipping client unlocks the clock while it awaits a result or `env.sleep`s.
 */
export async function ensureTemporalTestServer(
  cacheDir: string,
  logFile: string,
  progress: Progress,
): Promise<string> {
  const dir = temporalTestServerDir(cacheDir);
  const wrapper = join(dir, 'temporal-test-server');
  const stamp = join(dir, '.complete');
  if (existsSync(stamp)) return wrapper;
  for (const [tool, pkg] of [
    ['java', 'openjdk-17-jre-headless'],
    ['mvn', 'maven'],
  ] as const) {
    if (!hasCommand(tool)) {
      throw new InstallError(
        `The Temporal test server runs on the JDK and is fetched with Maven, but "${tool}" is not on PATH: install ${pkg} (for example apt-get install ${pkg}) and run again.`,
      );
    }
  }
  progress(
    `fetching the Temporal test server ${TEMPORAL_TEST_SERVER_VERSION} jars with Maven (once, under a minute)`,
  );
  const staging = `${dir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'lib'), { recursive: true });
  await runLogged(
    `fetching the Temporal test server ${TEMPORAL_TEST_SERVER_VERSION}`,
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      join(projectRoot, 'infra', 'temporal-test-server', 'pom.xml'),
      `-Dtemporal.version=${TEMPORAL_TEST_SERVER_VERSION}`,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${join(staging, 'lib')}`,
    ],
    { logFile, progress },
  );
  const jars = readdirSync(join(staging, 'lib'));
  if (!jars.includes(`temporal-test-server-${TEMPORAL_TEST_SERVER_VERSION}.jar`)) {
    throw new InstallError(
      `Maven finished but the Temporal test server jar is missing from ${staging}; see ${logFile}.`,
    );
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  // The archive records the class path, so it is built where the jars now stay.
  const lib = join(dir, 'lib');
  writeWrapper(wrapper, lib);
  const archive = join(dir, 'classes.jsa');
  try {
    progress('recording the Temporal test server classes for a fast start (once, a few seconds)');
    await buildArchive(lib, archive, logFile);
    await runLogged(
      'checking the class-data-sharing archive',
      'java',
      ['-Xshare:on', `-XX:SharedArchiveFile=${archive}`, ...JVM_FLAGS, '-cp', `${lib}/*`, MAIN_CLASS],
      { logFile, progress },
    );
    writeWrapper(wrapper, lib, archive);
  } catch (err) {
    rmSync(archive, { force: true });
    const reason = err instanceof Error ? err.message : String(err);
    appendFileSync(logFile, `class-data-sharing archive skipped: ${reason}\n`);
    progress(
      `note: the Temporal test server starts without a class-data-sharing archive (${reason}); delete ${dir} to retry`,
    );
  }
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  return wrapper;
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

/** `exec`, so that stopping the wrapper's pid stops the JVM itself. */
function writeWrapper(path: string, lib: string, archive?: string) {
  const flags = [...JVM_FLAGS, ...(archive ? [`-XX:SharedArchiveFile=${shellQuote(archive)}`] : [])];
  writeFileSync(
    path,
    `#!/bin/sh\nexec java ${flags.join(' ')} -cp ${shellQuote(`${lib}/*`)} ${MAIN_CLASS} "$@"\n`,
  );
  chmodSync(path, 0o755);
}

/**
 * Starts the server once with `-XX:ArchiveClassesAtExit`, waits until it listens, and stops
 * it with SIGTERM: the JVM writes the archive on that orderly exit (never on SIGKILL).
 */
async function buildArchive(lib: string, archive: string, logFile: string): Promise<void> {
  rmSync(archive, { force: true });
  const port = await freePort();
  mkdirSync(dirname(logFile), { recursive: true });
  appendFileSync(logFile, `\n$ java -XX:ArchiveClassesAtExit=${archive} … ${MAIN_CLASS} ${port}\n`);
  const out = openSync(logFile, 'a');
  const child = spawn(
    'java',
    [
      `-XX:ArchiveClassesAtExit=${archive}`,
      '-Xlog:cds=error',
      ...JVM_FLAGS,
      '-cp',
      `${lib}/*`,
      MAIN_CLASS,
      String(port),
    ],
    { stdio: ['ignore', out, out] },
  );
  closeSync(out);
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code) => resolve(code));
    child.on('error', () => resolve(null));
  });
  let running = true;
  void exited.then(() => {
    running = false;
  });
  try {
    const deadline = Date.now() + 60_000;
    while (!(await listening(port))) {
      if (!running) throw new Error('the server exited before it listened');
      if (Date.now() > deadline) throw new Error(`the server did not listen on port ${port} within 60 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    await exited;
    clearTimeout(timer);
  } finally {
    if (running) child.kill('SIGKILL');
  }
  if (!existsSync(archive) || statSync(archive).size === 0) {
    throw new Error('the JVM wrote no archive at exit');
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
