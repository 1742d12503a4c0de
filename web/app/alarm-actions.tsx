/**
 * Acknowledge and shelve buttons of one alarm. They POST through the API (the same command path
 * as the CLI); the alarm list itself updates from the live events, so all that is shown here is
 * the answer: the processor's reason when it refused, or the server's error sentence.
 */
import { useSignal } from '@preact/signals';
import type { Alarm } from '../api/schemas.js';
import { isUnacked } from './alarms.js';
import { ACTOR, apiPath, postJson } from './api.js';
import { hasToken } from './token-hint.js';
import type { AlarmAnswer } from './types.js';

export function AlarmActions({ alarm }: { alarm: Alarm }) {
  const minutes = useSignal('60');
  const busy = useSignal(false);
  const message = useSignal<{ text: string; error: boolean } | null>(null);
  const disabled = !hasToken() || busy.value;
  const title = hasToken() ? undefined : 'Needs the API token (see the hint above)';

  const send = async (action: 'acknowledge' | 'shelve', body: Record<string, unknown>, done: string) => {
    busy.value = true;
    const answer = await postJson<AlarmAnswer>(apiPath('alarms', alarm.alarmId, action), {
      ...body,
      by: ACTOR,
    });
    busy.value = false;
    if (!answer.ok) message.value = { text: answer.error, error: true };
    else if (!answer.value.ok) message.value = { text: answer.value.reason ?? 'Refused.', error: true };
    else message.value = { text: done, error: false };
  };

  const shelve = (e: Event) => {
    e.preventDefault();
    const value = Number(minutes.value);
    if (!Number.isInteger(value) || value < 1 || value > 7 * 24 * 60) {
      message.value = { text: 'Shelve for 1 to 10080 minutes.', error: true };
      return;
    }
    void send('shelve', { minutes: value }, `Shelved for ${value} min.`);
  };

  return (
    <div class="actions">
      {isUnacked(alarm) && (
        <button
          type="button"
          disabled={disabled}
          title={title}
          onClick={() => void send('acknowledge', {}, 'Acknowledged.')}
        >
          Acknowledge
        </button>
      )}
      <form class="inline" onSubmit={shelve}>
        <input
          type="number"
          min={1}
          max={7 * 24 * 60}
          aria-label="Shelve for minutes"
          class="minutes"
          value={minutes.value}
          onInput={(e) => {
            minutes.value = e.currentTarget.value;
          }}
        />
        <button type="submit" disabled={disabled} title={title}>
          Shelve
        </button>
      </form>
      {message.value && (
        <span class={message.value.error ? 'error' : 'ok'} role="status">
          {message.value.text}
        </span>
      )}
    </div>
  );
}
