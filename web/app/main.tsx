/**
 * Entry point of the live factory view (bundled by web/build.ts into web/dist/app.js and
 * app.css). The token is taken out of the address first, so routing never sees it.
 */
import 'uplot/dist/uPlot.min.css';
import './app.css';
import { render } from 'preact';
import { App } from './app.js';
import { captureTokenFromUrl } from './auth.js';
import { installFloorProbe } from './floor-probe.js';
import { connectLive } from './live.js';
import { parseRoute } from './route.js';
import { route, startRouter } from './router.js';

captureTokenFromUrl();
route.value = parseRoute(location.hash);
startRouter();
installFloorProbe();
connectLive();
render(<App />, document.getElementById('app')!);
