/** Pieces both workflows use: activity options, how an alarm is named, telling a role. */
import { ActivityFailure, type ActivityOptions, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { Activities } from './activities.js';
import type { AlarmFacts, CommandOutcome, Notification, Severity } from './types.js';

/**
 * Every activity is retried with backoff, and gives up after ten minutes (schedule-to-close):
 * a step never waits forever on a dead webhook or a stopped Kafka, and the workflow says so.
 */
export const ACTIVITY_DEFAULTS: ActivityOptions = {
  startToCloseTimeout: '30 seconds',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
};

/** "temperature-high-high on M-0003" (or on a line, for a flood). */
export const describeAlarm = (a: AlarmFacts) => `${a.rule} on ${a.machineId ?? `${a.site}/${a.line}`}`;

export const minutes = (s: number) =>
  s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${+(s / 3600).toFixed(1)} h`;

/** An activity that gave up (or a command nobody answered) as an outcome, not a failed workflow. */
export function unreachable(err: unknown): CommandOutcome {
  if (err instanceof ActivityFailure)
    return {
      ok: false,
      reason: `gave up after retrying: ${err.cause?.message ?? err.message}`,
      noAnswer: true,
    };
  throw err;
}

export interface Telling {
  /** Names the notification within its workflow (its id is `<workflowId>/<step>/<channel>`). */
  step: string;
  role: string;
  title: string;
  contacts: string[];
  channels: string[];
  subject: string;
  text: string;
  alarmId: string | null;
  ticketId: string | null;
  machineId: string | null;
  line: string;
  severity: Severity | null;
  log: (what: string) => void;
}

/** One activity per channel, each with a summary the Temporal UI shows; a channel that gave up is noted, not fatal. */
export async function notifyAll(t: Telling): Promise<void> {
  const { workflowId } = workflowInfo();
  const n: Omit<Notification, 'id'> = {
    role: t.role,
    title: t.title,
    contacts: t.contacts,
    subject: t.subject,
    text: t.text,
    alarmId: t.alarmId,
    ticketId: t.ticketId,
    machineId: t.machineId,
    line: t.line,
    severity: t.severity,
    at: Date.now(),
  };
  const results = await Promise.all(
    t.channels.map(async (channel) => {
      const { notify } = proxyActivities<Activities>({
        ...ACTIVITY_DEFAULTS,
        summary: `notify ${t.title} about ${t.subject} (${channel})`,
      });
      try {
        await notify({ ...n, id: `${workflowId}/${t.step}/${channel}` }, channel);
        return `${channel}`;
      } catch (err) {
        if (!(err instanceof ActivityFailure)) throw err;
        return `${channel} FAILED (${err.cause?.message ?? err.message})`;
      }
    }),
  );
  t.log(`told the ${t.title} (${t.contacts.join(', ')}) via ${results.join(', ')}: ${t.subject}`);
}
