/** `#/shards`: which worker (region) hosts which shards, from the workers' heartbeats. */
import { age } from './format.js';
import { useNow } from './hooks.js';
import { shardCoverage } from './shards.js';
import { workers } from './store.js';

export function ShardsPage() {
  const now = useNow();
  const data = workers.value;
  if (data === null) {
    return (
      <main class="page">
        <h1>Shards</h1>
        <p class="muted">Waiting for the live events…</p>
      </main>
    );
  }
  const list = [...data.workers].sort((a, b) => a.workerId.localeCompare(b.workerId));
  const { unowned, contested } = shardCoverage(list, data.shards);
  return (
    <main class="page">
      <h1>
        Shards <span class="count">{data.shards}</span> across <span class="count">{list.length}</span>{' '}
        workers
      </h1>
      {unowned.length > 0 ? (
        <p class="error">
          Unowned shards ({unowned.length}): {unowned.join(', ')}. Their machines are not hosted.
        </p>
      ) : (
        <p class="muted">Every shard has an owner.</p>
      )}
      {contested.length > 0 && <p class="warn">Claimed by more than one worker: {contested.join(', ')}.</p>}
      <table class="grid">
        <thead>
          <tr>
            <th>Worker</th>
            <th>PID</th>
            <th class="num">Actors</th>
            <th>Fenced</th>
            <th>Last heartbeat</th>
            <th>Shards</th>
          </tr>
        </thead>
        <tbody>
          {list.map((w) => (
            <tr key={w.workerId} class={w.fenced ? 'fenced' : undefined}>
              <td>{w.workerId}</td>
              <td>{w.pid}</td>
              <td class="num">{w.actors.toLocaleString('en-US')}</td>
              <td>{w.fenced ? <span class="error">fenced</span> : 'no'}</td>
              <td class="nowrap">{age(w.lastSeen, now)}</td>
              <td>
                <div class="shard-boxes">
                  {[...w.shards]
                    .sort((a, b) => a - b)
                    .map((s) => (
                      <span key={s} class={contested.includes(s) ? 'shard contested' : 'shard'}>
                        {s}
                      </span>
                    ))}
                </div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </main>
  );
}
