#!/usr/bin/env node
// The `factory` CLI. Registers tsx so the TypeScript sources run as they are, then hands over.
import { register } from 'tsx/esm/api';

register();
// `factory watch | head` closes our stdout early: that is the reader's choice, not an error.
process.stdout.on('error', (err) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});
const { main } = await import('../infra/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
