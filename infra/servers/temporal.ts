import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { addressVariable, type Config, formatAddress, paths } from '../../common/config.js';
import { searchAttributes } from '../../workflows/definitions.js';
import { type Component, type ComponentContext, withTimeout } from './component.js';

export const connectTemporal = (config: Config) =>
  Connection.connect({ address: formatAddress(config.temporal), connectTimeout: 3_000 });

/** The Temporal UI's workflow list of `namespace`, filtered by a visibility query. */
export const workflowListUrl = (uiUrl: string, namespace: string, query: string): string =>
  `${uiUrl}/namespaces/${encodeURIComponent(namespace)}/workflows?query=${encodeURIComponent(query)}`;

/** Escalations still open (the alarm not yet back to normal). */
export const openAlarmsQuery = `WorkflowType="alarmEscalation" AND ExecutionStatus="Running"`;

/** The Temporal UI's list of escalations still open. */
export function openAlarmsLink(config: Config): string {
  return workflowListUrl(
    `http://${formatAddress(config.temporalUi)}`,
    config.temporalNamespace,
    openAlarmsQuery,
  );
}

export function temporal(ctx: ComponentContext): Component {
  const { config } = ctx;
  const dir = paths(config).server('temporal');
  const db = join(dir, 'temporal.db');
  const ui = `http://${formatAddress(config.temporalUi)}`;

  const describe = async () => {
    const connection = await withTimeout('temporal', 5_000, connectTemporal(config));
    try {
      return await withTimeout(
        'temporal',
        5_000,
        connection.workflowService.describeNamespace({ namespace: config.temporalNamespace }),
      );
    } finally {
      await connection.close();
    }
  };

  return {
    name: 'temporal',
    address: `${formatAddress(config.temporal)} (UI ${ui})`,
    binds: [
      { addr: config.temporal, variable: addressVariable.temporal },
      { addr: config.temporalUi, variable: addressVariable.temporalUi },
    ],
    async prepare() {
      mkdirSync(dir, { recursive: true });
    },
    spawn: () => ({
      command: ctx.tools.temporal,
      args: [
        'server',
        'start-dev',
        // A SQLite file, so workflows (alarm escalations, tickets) survive a restart.
        '--db-filename',
        db,
        // Write-ahead log, synced at checkpoints: a committed write survives a SIGKILL of the
        // server (only a power cut can take the last ones), and starts run several times faster
        // than with a rollback journal synced on every commit.
        '--sqlite-pragma',
        'journal_mode=wal',
        '--sqlite-pragma',
        'synchronous=normal',
        '--ip',
        config.temporal.host,
        '--port',
        String(config.temporal.port),
        '--ui-ip',
        config.temporalUi.host,
        '--ui-port',
        String(config.temporalUi.port),
        ...(config.temporalNamespace === 'default' ? [] : ['--namespace', config.temporalNamespace]),
        // What the UI filters alarms and tickets by (workflows/definitions.ts).
        ...Object.values(searchAttributes).flatMap((k) => ['--search-attribute', `${k.name}=Keyword`]),
        '--log-format',
        'json',
        '--log-level',
        'warn',
      ],
      marker: db,
    }),
    ping: async () => void (await describe()),
    async health() {
      const ns = await describe();
      const res = await withTimeout('temporal UI', 5_000, fetch(ui));
      if (res.status !== 200) throw new Error(`Temporal UI at ${ui} answered HTTP ${res.status}`);
      return `namespace ${ns.namespaceInfo?.name} described, UI answers 200`;
    },
  };
}
