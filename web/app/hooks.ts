/** Small hooks the pages share: polling an endpoint while a page is open, and a ticking clock. */
import { useSignal } from '@preact/signals';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { MachineSummary } from '../api/schemas.js';
import { fleet } from './store.js';

/**
 * Runs `load` now and then `everyMs` after each run ends (never two at once), until the component
 * unmounts or `key` changes; an unmount aborts the request in flight.
 */
export function usePoll(key: string, everyMs: number, load: (signal: AbortSignal) => Promise<void>): void {
  const latest = useRef(load);
  latest.current = load;
  useEffect(() => {
    const abort = new AbortController();
    let timer: number | undefined;
    const run = async () => {
      await latest.current(abort.signal);
      if (!abort.signal.aborted) timer = window.setTimeout(run, everyMs);
    };
    void run();
    return () => {
      abort.abort();
      window.clearTimeout(timer);
    };
  }, [key, everyMs]);
}

/** Date.now(), refreshed every `everyMs` while the component is mounted (for "3 s ago"). */
export function useNow(everyMs = 1000): number {
  const now = useSignal(Date.now());
  useEffect(() => {
    const timer = window.setInterval(() => {
      now.value = Date.now();
    }, everyMs);
    return () => window.clearInterval(timer);
  }, [everyMs, now]);
  return now.value;
}

/** One machine's summary as the live events keep it, re-rendering only when that machine changes. */
export function useLiveMachine(machineId: string): MachineSummary | undefined {
  const [machine, setMachine] = useState(() => fleet.machines.get(machineId));
  useEffect(() => {
    setMachine(fleet.machines.get(machineId));
    return fleet.subscribe((change) => {
      if (change.structural || change.changed.includes(machineId)) setMachine(fleet.machines.get(machineId));
    });
  }, [machineId]);
  return machine;
}
