/** The machine page's two actions: inject a fault (for drills and demos), and open a ticket. */
import { useSignal } from '@preact/signals';
import { ACTOR, apiPath, postJson } from './api.js';
import { parseParams } from './params.js';
import { hasToken } from './token-hint.js';
import type { CommandAnswer, OpenedTicket } from './types.js';

export const FAULTS = [
  'overheat',
  'bearing-wear',
  'jam',
  'sensor-stuck',
  'drift',
  'dropout',
  'noise-burst',
] as const;

type Message = { text: string; error: boolean; href?: string } | null;

export function MachineActions({ machineId }: { machineId: string }) {
  return (
    <div class="machine-actions">
      <InjectFault machineId={machineId} />
      <OpenTicket machineId={machineId} />
    </div>
  );
}

function InjectFault({ machineId }: { machineId: string }) {
  const fault = useSignal<string>(FAULTS[0]);
  const params = useSignal('');
  const busy = useSignal(false);
  const message = useSignal<Message>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    const parsed = parseParams(params.value);
    if (!parsed.ok) {
      message.value = { text: parsed.error, error: true };
      return;
    }
    busy.value = true;
    const answer = await postJson<CommandAnswer>(apiPath('machines', machineId, 'inject'), {
      fault: fault.value,
      params: parsed.params,
      by: ACTOR,
    });
    busy.value = false;
    if (!answer.ok) message.value = { text: answer.error, error: true };
    else if (!answer.value.ok) message.value = { text: answer.value.reason ?? 'Refused.', error: true };
    else
      message.value = {
        text: `Injected ${fault.value} (${answer.value.owner}, shard ${answer.value.shard}).`,
        error: false,
      };
  };

  return (
    <form class="action" onSubmit={submit}>
      <h3>Inject fault</h3>
      <label>
        Fault{' '}
        <select
          value={fault.value}
          onChange={(e) => {
            fault.value = e.currentTarget.value;
          }}
        >
          {FAULTS.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
      </label>
      <label>
        Params{' '}
        <input
          type="text"
          placeholder="k=v, k=v"
          value={params.value}
          onInput={(e) => {
            params.value = e.currentTarget.value;
          }}
        />
      </label>
      <button type="submit" disabled={!hasToken() || busy.value}>
        Inject fault
      </button>
      <Answer message={message.value} />
    </form>
  );
}

function OpenTicket({ machineId }: { machineId: string }) {
  const reason = useSignal('');
  const busy = useSignal(false);
  const message = useSignal<Message>(null);

  const submit = async (e: Event) => {
    e.preventDefault();
    const text = reason.value.trim();
    if (text === '') {
      message.value = { text: 'Say why the ticket is opened.', error: true };
      return;
    }
    busy.value = true;
    const answer = await postJson<OpenedTicket>('/api/tickets', { machineId, reason: text, by: ACTOR });
    busy.value = false;
    if (!answer.ok) {
      message.value = { text: answer.error, error: true };
    } else {
      reason.value = '';
      message.value = {
        text: `Ticket ${answer.value.ticketId} opened.`,
        error: false,
        href: answer.value.workflowUrl,
      };
    }
  };

  return (
    <form class="action" onSubmit={submit}>
      <h3>Open ticket</h3>
      <label>
        Reason{' '}
        <input
          type="text"
          maxLength={500}
          placeholder="what is wrong"
          value={reason.value}
          onInput={(e) => {
            reason.value = e.currentTarget.value;
          }}
        />
      </label>
      <button type="submit" disabled={!hasToken() || busy.value}>
        Open ticket
      </button>
      <Answer message={message.value} />
    </form>
  );
}

function Answer({ message }: { message: Message }) {
  if (message === null) return null;
  return (
    <p class={message.error ? 'error' : 'ok'} role="status">
      {message.text}{' '}
      {message.href && (
        <a href={message.href} target="_blank" rel="noreferrer">
          workflow in Temporal
        </a>
      )}
    </p>
  );
}
