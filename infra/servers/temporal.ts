import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { addressVariable, type Config, formatAddress, paths } from '../../common/config.js';
import { searchAttributes } from '../../workflows/definitions.js';
import { type Component, type ComponentContext, withTimeout } from './component.js';

export const connectTemporal = (config: Config) =>
  Connection.connect({ address: formatAddress(config.temporal), connectTimeout: 3_000 });

/** The Temporal UI's list of escalations still open (the alarm not yet back to normal). */
export function openAlarmsLink(config: Config): string {
  const query = `WorkflowType="alarmEscalation" AND ExecutionStatus="Running"`;
  return `http://${formatAddress(config.temporalUi)}/namespaces/${encodeURIComponent(config.temporalNamespace)}/workflows?query=${encodeURIComponent(query)}`;
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
