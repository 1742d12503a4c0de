import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { hasCommand, InstallError, isRoot, type Progress, runLogged } from './exec.js';

/**
 * Servers that come from Debian 12's own packages. The version is the upstream series the
 * project is tested with; a newer Debian point release of the same series is fine.
 */
export const debianPackages = [
  { pkg: 'mosquitto', binary: '/usr/sbin/mosquitto', series: '2.0.' },
  { pkg: 'mosquitto-clients', binary: '/usr/bin/mosquitto_pub', series: '2.0.' },
  { pkg: 'nats-server', binary: '/usr/sbin/nats-server', series: '2.9.' },
  { pkg: 'influxdb', binary: '/usr/bin/influxd', series: '1.6.' },
] as const;

export function installedVersion(pkg: string): string | undefined {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format syntax
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Version}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

/** How to run a command as root here: directly when we are root, else `sudo -n`; undefined when neither works. */
function rootPrefix(): string[] | undefined {
  return isRoot() ? [] : hasCommand('sudo') ? ['sudo', '-n'] : undefined;
}

/**
 * Installs Debian packages with `apt-get update` then `apt-get install --no-install-recommends`,
 * as root or through `sudo -n`, with the output in `logFile`. Returns the root prefix it used,
 * for follow-up commands that need root too.
 */
export async function aptInstall(pkgs: string[], logFile: string, progress: Progress): Promise<string[]> {
  if (!hasCommand('apt-get')) {
    throw new InstallError(
      `Missing ${pkgs.join(', ')} and apt-get is not available: install these packages with your system's package manager and run again.`,
    );
  }
  const sudo = rootPrefix();
  if (!sudo) {
    throw new InstallError(
      `Missing ${pkgs.join(', ')}: run "sudo apt-get install -y ${pkgs.join(' ')}" (or run factory as root) and try again.`,
    );
  }
  const apt = (args: string[]) => {
    const [cmd, ...rest] = [...sudo, 'apt-get', ...args];
    return runLogged(`installing ${pkgs.join(', ')}`, cmd!, rest, {
      logFile,
      progress,
      env: { DEBIAN_FRONTEND: 'noninteractive' },
    });
  };
  progress(`installing ${pkgs.join(', ')} from Debian packages`);
  await apt(['update', '-q']);
  await apt(['install', '-y', '-q', '--no-install-recommends', ...pkgs]);
  return sudo;
}

/** Installs whichever packages are missing; a no-op (milliseconds) when all are present. */
export async function ensureDebianPackages(logFile: string, progress: Progress): Promise<string[]> {
  const missing = debianPackages.filter((p) => !existsSync(p.binary)).map((p) => p.pkg);
  const notes: string[] = [];
  if (missing.length > 0) {
    const sudo = await aptInstall(missing, logFile, progress);
    // On a machine with systemd, the packages start their own system services on our ports.
    if (existsSync('/run/systemd/system')) {
      const units = missing.filter((p) => p !== 'mosquitto-clients');
      const [cmd, ...args] = [...sudo, 'systemctl', 'disable', '--now', ...units];
      spawnSync(cmd!, args, { stdio: 'ignore' });
      notes.push(
        `disabled the system services ${units.join(', ')} so factory's own instances can use their ports`,
      );
    }
  }
  for (const p of debianPackages) {
    const v = installedVersion(p.pkg);
    if (v && !v.startsWith(p.series)) {
      notes.push(`${p.pkg} ${v} is installed; factory is tested with the ${p.series}x series`);
    }
  }
  return notes;
}
