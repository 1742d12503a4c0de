import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../common/config.js';
import { hasCommand, InstallError, type Progress, runLogged } from './exec.js';

/** Pinned: kafkajs speaks the 3.x protocol; Kafka 4.0 removed versions it relies on (KIP-896). */
export const KAFKA_VERSION = '3.9.1';

export const kafkaLibDir = (cacheDir: string) => join(cacheDir, `kafka-${KAFKA_VERSION}`, 'lib');

/** Gathers the broker's jars with Maven into the cache, once. */
export async function ensureKafka(cacheDir: string, logFile: string, progress: Progress): Promise<string> {
  const lib = kafkaLibDir(cacheDir);
  const stamp = join(lib, '..', '.complete');
  if (existsSync(stamp)) return lib;
  for (const [tool, pkg] of [
    ['java', 'openjdk-17-jre-headless'],
    ['mvn', 'maven'],
  ] as const) {
    if (!hasCommand(tool)) {
      throw new InstallError(
        `Kafka runs on the JDK and is fetched with Maven, but "${tool}" is not on PATH: install ${pkg} (for example apt-get install ${pkg}) and run again.`,
      );
    }
  }
  progress(`fetching Kafka ${KAFKA_VERSION} jars with Maven (once, about a minute)`);
  const staging = `${lib}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  await runLogged(
    `fetching Kafka ${KAFKA_VERSION}`,
    'mvn',
    [
      '-q',
      '-B',
      '-f',
      join(projectRoot, 'infra', 'kafka', 'pom.xml'),
      `-Dkafka.version=${KAFKA_VERSION}`,
      'dependency:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${staging}`,
    ],
    { logFile, progress },
  );
  const jars = readdirSync(staging);
  if (!jars.some((j) => j.startsWith(`kafka_2.13-${KAFKA_VERSION}`))) {
    throw new InstallError(`Maven finished but the Kafka jar is missing from ${staging}; see ${logFile}.`);
  }
  rmSync(lib, { recursive: true, force: true });
  renameSync(staging, lib);
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  return lib;
}
