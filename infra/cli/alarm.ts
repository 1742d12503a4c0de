/**
 * `factory alarm ack|shelve|unshelve|list`. Commands go on `alarm-commands` (key = the alarm's
 * machine) to whichever analytics instance owns the machine's alarms, which answers over NATS:
 * applied, or refused with the reason (already acknowledged, not active, ...). The list reads
 * the open-alarm view that the processors keep in NATS KV.
 */
import { randomUUID } from 'node:crypto';
import {
  type AlarmAnswer,
  type AlarmCommand,
  type AlarmEvent,
  alarmAnswerSchema,
  alarmIdSchema,
  alarmSubjects,
  subjectOf,
} from '../../analytics/events.js';
import { AnalyticsStore } from '../../analytics/store.js';
import type { Config } from '../../common/config.js';
import { TOPICS } from '../../common/topics.js';
import { table } from '../supervisor/output.js';
import { StackError } from '../supervisor/stack.js';
import { cliNats, requestOverKafka } from './command.js';

export type AlarmAction = AlarmCommand['action'];

export async function sendAlarmCommand(
  config: Config,
  alarmId: string,
  action: AlarmAction,
  opts: { by?: string; forMs?: number; timeoutMs: number },
): Promise<AlarmAnswer> {
  const id = alarmIdSchema.safeParse(alarmId);
  if (!id.success)
    throw new StackError(
      `"${alarmId}" is not an alarm id (they look like M-0003.temperature-high.4711; see "factory alarm list").`,
    );
  const nc = await cliNats(config);
  try {
    const commandId = randomUUID();
    const record: AlarmCommand = {
      v: 1,
      commandId,
      alarmId,
      action,
      by: opts.by ?? process.env.USER ?? 'cli',
      ...(opts.forMs !== undefined ? { forMs: opts.forMs } : {}),
      replyTo: alarmSubjects.answer(commandId),
      ts: Date.now(),
    };
    const answer = await requestOverKafka(
      nc,
      config,
      { topic: TOPICS.alarmCommands, key: subjectOf(alarmId)!, record, replyTo: record.replyTo! },
      (raw) => {
        const a = alarmAnswerSchema.safeParse(raw);
        return a.success ? a.data : undefined;
      },
      opts.timeoutMs,
    );
    if (answer) return answer;
    throw new StackError(
      `No answer from the alarm's owner within ${Math.round(opts.timeoutMs / 1000)} s; the command stays queued for it. Is analytics running ("factory status")?`,
    );
  } finally {
    await nc.close();
  }
}

/** Every alarm not back to normal, most severe and oldest first. */
export async function listAlarms(config: Config): Promise<AlarmEvent[]> {
  const nc = await cliNats(config);
  try {
    const store = await AnalyticsStore.open(nc);
    const rank = { critical: 0, high: 1, medium: 2, low: 3 } as const;
    return [...(await store.openAlarms()).values()]
      .map((e) => e.value)
      .sort((a, b) => rank[a.severity] - rank[b.severity] || (a.raisedAt ?? 0) - (b.raisedAt ?? 0));
  } finally {
    await nc.close();
  }
}

const STATE_LABEL: Record<string, string> = {
  ACTIVE_UNACK: 'ACTIVE, unacked',
  ACTIVE_ACKED: 'active, acked',
  CLEARED_UNACK: 'cleared, unacked',
  SHELVED: 'shelved',
  SUPPRESSED: 'suppressed',
};

const clock = (ms: number | null) =>
  ms === null ? '-' : new Date(ms).toISOString().slice(0, 19).replace('T', ' ');

export function renderAlarms(alarms: AlarmEvent[], now = Date.now()): string {
  if (alarms.length === 0) return 'No open alarms.';
  const rows = alarms.map((a) => [
    a.alarmId,
    a.severity,
    STATE_LABEL[a.state] ?? a.state,
    a.machineId ?? `${a.site}/${a.line}`,
    a.line,
    clock(a.raisedAt),
    a.state === 'SHELVED' && a.shelvedUntil
      ? `until ${clock(a.shelvedUntil)}`
      : a.state === 'ACTIVE_ACKED' && a.by
        ? `by ${a.by}`
        : '',
    a.message + (a.flood ? ` (flood ${a.flood})` : ''),
  ]);
  const unacked = alarms.filter((a) => a.state === 'ACTIVE_UNACK' || a.state === 'CLEARED_UNACK').length;
  return [
    table([['ALARM', 'SEVERITY', 'STATE', 'MACHINE', 'LINE', 'RAISED (UTC)', '', 'MESSAGE'], ...rows]),
    '',
    `${alarms.length} open, ${unacked} awaiting acknowledgement (as of ${clock(now)} UTC).`,
  ].join('\n');
}
