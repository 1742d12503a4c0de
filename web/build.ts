/**
 * Builds the web view: web/app/main.tsx bundled by esbuild into web/dist/app.js (with the CSS it
 * imports in web/dist/app.css) and web/app/index.html copied beside them. One bundle, no dev
 * server: the API process serves web/dist as it is. Run by `npm run web`.
 */
import { copyFile, mkdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const webDir = dirname(fileURLToPath(import.meta.url));
const appDir = join(webDir, 'app');
export const distDir = join(webDir, 'dist');

/** The files the page loads, as served: index.html links /app.css and /app.js. */
const SERVED = ['index.html', 'app.js', 'app.css'];

/** Builds web/dist; `bytes` is the total size of the files the page loads (source maps aside). */
export async function buildWeb(): Promise<{ bytes: number; files: Record<string, number> }> {
  await mkdir(distDir, { recursive: true });
  await build({
    entryPoints: [join(appDir, 'main.tsx')],
    outfile: join(distDir, 'app.js'),
    bundle: true,
    format: 'esm',
    target: 'es2022',
    platform: 'browser',
    minify: true,
    sourcemap: 'linked',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    tsconfig: join(appDir, 'tsconfig.json'),
    logLevel: 'warning',
  });
  await copyFile(join(appDir, 'index.html'), join(distDir, 'index.html'));
  const files: Record<string, number> = {};
  for (const name of SERVED) files[name] = (await stat(join(distDir, name))).size;
  return { bytes: Object.values(files).reduce((a, b) => a + b, 0), files };
}

const runDirectly =
  process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (runDirectly) {
  const { bytes, files } = await buildWeb();
  const sizes = Object.entries(files).map(([name, size]) => `${name} ${(size / 1024).toFixed(1)} KB`);
  console.log(`web/dist: ${sizes.join(', ')} (${(bytes / 1024).toFixed(1)} KB in all)`);
}
