/** `#/alarms`: every open alarm, most severe and then oldest first, with acknowledge and shelve. */
import { useComputed } from '@preact/signals';
import type { Alarm } from '../api/schemas.js';
import { AlarmActions } from './alarm-actions.js';
import { isUnacked, sortAlarms } from './alarms.js';
import { SEVERITY_COLORS } from './colors.js';
import { localTime, NONE } from './format.js';
import { machineHash } from './route.js';
import { alarms, hasSnapshot } from './store.js';
import { TokenHint } from './token-hint.js';

export function AlarmsPage() {
  const sorted = useComputed(() => sortAlarms(alarms.value));
  const list = sorted.value;
  const unacked = list.filter(isUnacked).length;
  return (
    <main class="page">
      <h1>
        Open alarms <span class="count">{list.length}</span>
        {unacked > 0 && <span class="count alert">{unacked} unacknowledged</span>}
      </h1>
      <TokenHint />
      {!hasSnapshot.value ? (
        <p class="muted">Waiting for the live events…</p>
      ) : list.length === 0 ? (
        <p class="muted">No open alarms.</p>
      ) : (
        <AlarmTable alarms={list} showMachine />
      )}
    </main>
  );
}

export function AlarmTable({ alarms, showMachine }: { alarms: readonly Alarm[]; showMachine: boolean }) {
  return (
    <table class="grid">
      <thead>
        <tr>
          <th>Severity</th>
          <th>State</th>
          {showMachine && <th>Machine</th>}
          {showMachine && <th>Line</th>}
          <th>Raised</th>
          <th>Message</th>
          <th>Flood</th>
          <th>Escalation</th>
          <th>Actions</th>
        </tr>
      </thead>
      <tbody>
        {alarms.map((a) => (
          <tr key={a.alarmId} data-alarm-id={a.alarmId} class={isUnacked(a) ? 'unacked' : undefined}>
            <td>
              <span class="severity" style={{ borderColor: SEVERITY_COLORS[a.severity] ?? '#6b7280' }}>
                {a.severity}
              </span>
            </td>
            <td>{a.state}</td>
            {showMachine && (
              <td class="nowrap">
                {a.machineId === null ? NONE : <a href={machineHash(a.machineId)}>{a.machineId}</a>}
              </td>
            )}
            {showMachine && (
              <td>
                {a.site} / {a.line}
              </td>
            )}
            <td class="nowrap">{localTime(a.raisedAt ?? a.ts)}</td>
            <td>
              {a.message}
              {/* The id the CLI takes (factory alarm ack <id>). */}
              <div class="muted alarm-id">{a.alarmId}</div>
            </td>
            <td>{a.flood ?? NONE}</td>
            <td>
              <a href={a.workflowUrl} target="_blank" rel="noreferrer">
                workflow in Temporal
              </a>
            </td>
            <td>
              <AlarmActions alarm={a} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
