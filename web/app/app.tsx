/** The page: the top bar and the view the hash names. */
import { AlarmsPage } from './alarms-page.js';
import { FloorView } from './floor-view.js';
import { MachinePage } from './machine-page.js';
import { PipelinePage } from './pipeline-page.js';
import { route } from './router.js';
import { ShardsPage } from './shards-page.js';
import { TopBar } from './top-bar.js';

export function App() {
  return (
    <>
      <TopBar />
      <View />
    </>
  );
}

function View() {
  const r = route.value;
  switch (r.page) {
    case 'floor':
      return <FloorView />;
    case 'machine':
      return <MachinePage key={r.machineId} machineId={r.machineId} />;
    case 'alarms':
      return <AlarmsPage />;
    case 'shards':
      return <ShardsPage />;
    case 'pipeline':
      return <PipelinePage />;
  }
}
