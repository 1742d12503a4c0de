/**
 * Follows the server's live events (`GET /api/events`). The browser reconnects an EventSource
 * by itself after a dropped connection, and the server sends a fresh snapshot on every connect,
 * so nothing is replayed here; only a connection the browser gave up on (an HTTP error) is
 * opened again, after a pause.
 */
import { batch } from '@preact/signals';
import type {
  Alarm,
  LiveSnapshot,
  MachinesDelta,
  PipelineResponse,
  WorkersResponse,
} from '../api/schemas.js';
import { alarms, connection, fleet, hasSnapshot, pipeline, workers } from './store.js';

const RETRY_MS = 3000;

export function connectLive(url = '/api/events'): () => void {
  let source: EventSource | null = null;
  let retry: number | undefined;
  let stopped = false;

  const open = () => {
    if (performance.getEntriesByName('factory:connect').length === 0) performance.mark('factory:connect');
    const es = new EventSource(url);
    source = es;
    on<LiveSnapshot>(es, 'snapshot', (s) => {
      // Where the first paint's time goes (the browser test reports it): the snapshot's arrival.
      if (performance.getEntriesByName('factory:snapshot').length === 0) performance.mark('factory:snapshot');
      fleet.applySnapshot(s.machines);
      batch(() => {
        alarms.value = s.alarms;
        workers.value = s.workers;
        hasSnapshot.value = true;
        connection.value = 'live';
      });
    });
    on<MachinesDelta>(es, 'machines', (d) => fleet.applyDelta(d));
    on<{ alarms: Alarm[] }>(es, 'alarms', (a) => {
      alarms.value = a.alarms;
    });
    on<WorkersResponse>(es, 'workers', (w) => {
      workers.value = w;
    });
    on<PipelineResponse>(es, 'pipeline', (p) => {
      pipeline.value = p;
    });
    es.onerror = () => {
      connection.value = 'reconnecting';
      if (es.readyState === EventSource.CLOSED && !stopped) {
        es.close();
        retry = window.setTimeout(open, RETRY_MS);
      }
    };
  };

  open();
  return () => {
    stopped = true;
    window.clearTimeout(retry);
    source?.close();
  };
}

function on<T>(es: EventSource, event: string, handle: (data: T) => void): void {
  es.addEventListener(event, (e) => {
    let data: T;
    try {
      data = JSON.parse((e as MessageEvent<string>).data) as T;
    } catch {
      console.warn(`live event ${event}: not JSON`);
      return;
    }
    handle(data);
  });
}
