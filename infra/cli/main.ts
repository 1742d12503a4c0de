import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type Config, ConfigError, loadConfig, projectRoot } from '../../common/config.js';
import { CredentialsError } from '../../common/credentials.js';
import { parseDuration } from '../../common/duration.js';
import { ticketWorkflowId } from '../../workflows/definitions.js';
import { InstallError } from '../install/exec.js';
import { openAlarmsLink } from '../servers/temporal.js';
import { webLink } from '../servers/web.js';
import { consoleOutput } from '../supervisor/output.js';
import { down, renderStatus, StackError, scale, status, up } from '../supervisor/stack.js';
import { listAlarms, renderAlarms, sendAlarmCommand } from './alarm.js';
import { bench } from './bench.js';
import { commandOf, faultOf, paramsOf, sendCommand } from './command.js';
import { loadForRun, renderScenarioList, scenarioFile, sim } from './sim.js';
import { closeTicket, listTickets, openTicket, renderTickets, workflowLink } from './ticket.js';
import { VerifyError, verify } from './verify.js';
import { watch } from './watch.js';

interface Command {
  summary: string;
  usage: string;
  options?: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; help: string }>;
  run(config: Config, args: { values: Record<string, unknown>; positionals: string[] }): Promise<number>;
}

const out = consoleOutput();
/** Each bench publisher is one MQTT connection and one spool: enough to saturate, no more. */
const MAX_BENCH_PUBLISHERS = 64;

/** Bad flags or arguments: exit 2 with one sentence. */
class UsageError extends Error {}

function wholeNumber(flag: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[1-9]\d{0,5}$/.test(String(value))) {
    throw new UsageError(`--${flag} must be a whole number from 1 to 999999, not "${value}".`);
  }
  return Number(value);
}

/** The options of `command` and `inject`. */
const commandOptions = (param: string): Command['options'] => ({
  param: { type: 'string', multiple: true, help: param },
  by: { type: 'string', help: 'who sends it (recorded with the command; default $USER)' },
  timeout: { type: 'string', help: 'seconds to wait for the answer (default 15)' },
});

function workersFlag(value: unknown): number {
  const n = wholeNumber('workers', value, 0);
  if (n > 64) throw new UsageError(`--workers must be at most 64, not ${n}.`);
  return n;
}

async function answerCommand(
  config: Config,
  machineId: string,
  command: Record<string, unknown>,
  values: Record<string, unknown>,
): Promise<number> {
  const timeoutMs = wholeNumber('timeout', values.timeout, 15) * 1000;
  const a = await sendCommand(config, machineId, command, { by: values.by as string | undefined, timeoutMs });
  const where = `${a.owner}, shard ${a.shard}`;
  if (a.ok) {
    out.line(
      `${machineId}: ${String(command.type)} ${a.duplicate ? 'was already applied' : 'applied'} by ${where}; state ${a.state ?? '?'}, seq ${a.seq ?? '?'}.`,
    );
    return 0;
  }
  out.line(`${machineId}: ${String(command.type)} refused by ${where}: ${a.reason}.`);
  return 1;
}

const commands: Record<string, Command> = {
  up: {
    summary: 'install what is missing, start every server and wait until all are healthy',
    usage: 'up [--machines N] [--workers W]',
    options: {
      machines: {
        type: 'string',
        help: "scale the fleet to N machines in all (default: the fleet file's counts)",
      },
      workers: {
        type: 'string',
        help: 'worker processes hosting the machine actors (default FACTORY_WORKERS, 2)',
      },
    },
    async run(config, { values }) {
      const machines =
        values.machines === undefined ? undefined : wholeNumber('machines', values.machines, 0);
      const workers = values.workers === undefined ? undefined : workersFlag(values.workers);
      const rows = await up(config, out, { machines, workers });
      out.line('');
      out.line(renderStatus(config, rows));
      out.line('');
      out.line(`The live view: ${webLink(config)}`);
      out.line(`To act from the page (acknowledge, shelve, inject), open once: ${webLink(config, true)}`);
      out.line(`Open alarms in the Temporal UI: ${openAlarmsLink(config)}`);
      out.line('Stop with: factory down');
      return rows.every((r) => r.healthy) ? 0 : 1;
    },
  },
  web: {
    summary: "print the live view's address, and the link that lets the page act (it carries the API token)",
    usage: 'web',
    options: {},
    async run(config) {
      out.line(`The live view: ${webLink(config)}`);
      out.line(`To act from the page (acknowledge, shelve, inject), open once: ${webLink(config, true)}`);
      out.line(
        `Scripts send the token as "Authorization: Bearer <token>"; the API is described at ${webLink(config)}api/openapi.json`,
      );
      return 0;
    },
  },
  down: {
    summary: 'stop everything this data directory runs (TERM, then KILL after a deadline)',
    usage: 'down',
    async run(config) {
      await down(config, out);
      return 0;
    },
  },
  status: {
    summary: 'every component with its pid, address and health; exit 1 if any is unhealthy',
    usage: 'status [--json]',
    options: { json: { type: 'boolean', help: 'print a JSON array of {name, pid, address, healthy}' } },
    async run(config, { values }) {
      const rows = await status(config);
      if (values.json) out.line(JSON.stringify(rows, null, 2));
      else out.line(renderStatus(config, rows));
      return rows.every((r) => r.healthy) ? 0 : 1;
    },
  },
  watch: {
    summary: 'print live telemetry from MQTT, one line per reading',
    usage: 'watch [machineId] [--json]',
    options: { json: { type: 'boolean', help: 'print the raw JSON messages' } },
    async run(config, { values, positionals }) {
      if (positionals.length > 1) throw new UsageError('watch takes at most one machine id.');
      try {
        await watch(config, positionals[0], values.json === true, out);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      return 0;
    },
  },
  scale: {
    summary: 'start or stop worker processes; a stopped worker hands its machines over first',
    usage: 'scale --workers W',
    options: { workers: { type: 'string', help: 'the number of workers to run (1-64)' } },
    async run(config, { values }) {
      if (values.workers === undefined) throw new UsageError('scale needs --workers W.');
      await scale(config, out, workersFlag(values.workers));
      return 0;
    },
  },
  inject: {
    summary: "inject a fault into a machine (through its owner's command path) and print the answer",
    usage: 'inject <machineId> <fault> [--param k=v ...]',
    options: commandOptions('a fault parameter, for example extraC=60 or field=temperature'),
    async run(config, { values, positionals }) {
      if (positionals.length !== 2) throw new UsageError('inject takes a machine id and a fault.');
      const [machineId, fault] = positionals as [string, string];
      const command = faultOf(fault, paramsOf((values.param as string[] | undefined) ?? []));
      return answerCommand(config, machineId, command, values);
    },
  },
  command: {
    summary:
      'send a command (START, STOP, SET_SPEED, START_MAINTENANCE, …) to a machine and print the answer',
    usage: 'command <machineId> <command> [--param k=v ...]',
    options: commandOptions('a command field, for example rpm=900 or ticketId=T-17'),
    async run(config, { values, positionals }) {
      if (positionals.length !== 2) throw new UsageError('command takes a machine id and a command.');
      const [machineId, type] = positionals as [string, string];
      const command = commandOf(type, paramsOf((values.param as string[] | undefined) ?? []));
      return answerCommand(config, machineId, command, values);
    },
  },
  verify: {
    summary:
      'end-to-end loss check of every registered machine against Kafka and InfluxDB; exit 1 on failure',
    usage: 'verify [--wait S] [--since 15m] [--json]',
    options: {
      since: {
        type: 'string',
        help: 'check only the last window, for example 90s, 15m, 2h, 7d (default: all)',
      },
      wait: {
        type: 'string',
        help: 'seconds to let storage catch up before calling a reading lost (default 30)',
      },
      json: { type: 'boolean', help: 'print the full report as JSON' },
    },
    async run(config, { values }) {
      const waitMs = wholeNumber('wait', values.wait, 30) * 1000;
      const sinceMs = values.since === undefined ? undefined : parseDuration(String(values.since));
      if (values.since !== undefined && sinceMs === undefined)
        throw new UsageError(`--since takes a duration such as 90s, 15m, 2h or 7d, not "${values.since}".`);
      try {
        const report = await verify(config, { waitMs, json: values.json === true, sinceMs }, out);
        return report.ok ? 0 : 1;
      } catch (err) {
        if (err instanceof VerifyError) throw new StackError(err.message);
        throw err;
      }
    },
  },
  alarm: {
    summary: 'list open alarms, or acknowledge, shelve or unshelve one (the analytics processor decides)',
    usage:
      'alarm list [--json] | alarm ack|unshelve <alarmId> [--by NAME] | alarm shelve <alarmId> --for 30m',
    options: {
      by: { type: 'string', help: 'who acknowledges or shelves (recorded in the alarm; default $USER)' },
      for: { type: 'string', help: 'shelve: for how long, for example 30m, 2h (at most 7d)' },
      json: { type: 'boolean', help: 'list: print the open alarms as JSON' },
      timeout: { type: 'string', help: 'seconds to wait for the answer (default 15)' },
    },
    async run(config, { values, positionals }) {
      const [verb, alarmId, ...extra] = positionals;
      if (verb === 'list') {
        if (alarmId !== undefined) throw new UsageError('alarm list takes no arguments.');
        const alarms = await listAlarms(config);
        out.line(values.json ? JSON.stringify(alarms, null, 2) : renderAlarms(alarms));
        return 0;
      }
      const action = ({ ack: 'acknowledge', shelve: 'shelve', unshelve: 'unshelve' } as const)[
        verb as 'ack' | 'shelve' | 'unshelve'
      ];
      if (!action)
        throw new UsageError(`expected "list", "ack", "shelve" or "unshelve", not "${verb ?? ''}".`);
      if (!alarmId || extra.length > 0) throw new UsageError(`alarm ${verb} takes exactly one alarm id.`);
      let forMs: number | undefined;
      if (action === 'shelve') {
        forMs = values.for === undefined ? undefined : parseDuration(String(values.for));
        if (forMs === undefined)
          throw new UsageError('shelve needs --for with a duration such as 30m, 2h or 1d (at most 7d).');
        if (forMs > 7 * 86_400_000) throw new UsageError('--for may be at most 7d.');
      } else if (values.for !== undefined) throw new UsageError('--for applies to shelve.');
      const timeoutMs = wholeNumber('timeout', values.timeout, 15) * 1000;
      const a = await sendAlarmCommand(config, alarmId, action, {
        by: values.by as string | undefined,
        forMs,
        timeoutMs,
      });
      if (a.ok) {
        out.line(
          `${alarmId}: ${action === 'acknowledge' ? 'acknowledged' : `${action}d`}; now ${a.state} (${a.owner}).`,
        );
        return 0;
      }
      out.line(`${alarmId}: ${action} refused by ${a.owner}: ${a.reason}.`);
      return 1;
    },
  },
  ticket: {
    summary:
      'open a maintenance ticket for a machine, list tickets, or close one (the machine returns to service)',
    usage:
      'ticket open <machineId> [--reason TEXT] | ticket list [--all] [--json] | ticket close <ticketId> --note TEXT',
    options: {
      reason: {
        type: 'string',
        help: 'open: why the machine needs maintenance (default "maintenance requested")',
      },
      note: { type: 'string', help: 'close: what was done (recorded with the repair)' },
      by: { type: 'string', help: 'who opens or closes it (default $USER)' },
      all: { type: 'boolean', help: 'list: closed tickets too (the newest 200)' },
      json: { type: 'boolean', help: 'list: print JSON' },
      wait: {
        type: 'string',
        help: 'open: seconds to wait for the machine to enter MAINTENANCE (default 20)',
      },
    },
    async run(config, { values, positionals }) {
      const [verb, id, ...extra] = positionals;
      const by = String(values.by ?? process.env.USER ?? 'cli');
      if (verb === 'list') {
        if (id !== undefined) throw new UsageError('ticket list takes no arguments.');
        const rows = await listTickets(config, { all: values.all === true });
        out.line(values.json ? JSON.stringify(rows, null, 2) : renderTickets(rows));
        return 0;
      }
      if (verb !== 'open' && verb !== 'close')
        throw new UsageError(`expected "open", "list" or "close", not "${verb ?? ''}".`);
      if (!id || extra.length > 0)
        throw new UsageError(
          `ticket ${verb} takes exactly one ${verb === 'open' ? 'machine' : 'ticket'} id.`,
        );
      if (verb === 'open') {
        if (values.note !== undefined) throw new UsageError('--note applies to close; open takes --reason.');
        const reason = String(values.reason ?? 'maintenance requested');
        const waitMs = wholeNumber('wait', values.wait, 20) * 1000;
        const { ticketId, status } = await openTicket(config, id, { reason, by, waitMs });
        const where =
          status?.stage === 'IN_MAINTENANCE'
            ? `${id} is in MAINTENANCE`
            : `${id} has not reported MAINTENANCE yet (${status?.history.at(-1)?.what ?? 'waiting'})`;
        out.line(`Ticket ${ticketId} opened: ${where}.`);
        out.line(`Follow it: ${workflowLink(config, ticketWorkflowId(ticketId))}`);
        out.line(`Close it when repaired: factory ticket close ${ticketId} --note "what was done"`);
        return 0;
      }
      if (values.reason !== undefined) throw new UsageError('--reason applies to open; close takes --note.');
      if (values.note === undefined) throw new UsageError('ticket close needs --note "what was done".');
      const result = await closeTicket(config, id, { by, note: String(values.note) });
      if (!result.ok) {
        out.line(`Ticket ${id} not closed: ${result.reason}.`);
        return 1;
      }
      const s = result.status;
      const repair =
        s.inMaintenanceAt !== null && s.backInServiceAt !== null
          ? `back in service after ${Math.round((s.backInServiceAt - s.inMaintenanceAt) / 1000)} s of repair`
          : 'cancelled before the machine entered MAINTENANCE';
      out.line(`Ticket ${id} closed: ${s.machineId} ${repair} (written to InfluxDB "tickets").`);
      return 0;
    },
  },
  sim: {
    summary: 'run a fault-injection scenario and write its report with a verdict per expectation',
    usage: 'sim <file|name> [--reuse] [--keep] [--out DIR] | sim --list',
    options: {
      list: {
        type: 'boolean',
        help: 'list the scenarios of simulations/scenarios (and the files that cannot run)',
      },
      reuse: {
        type: 'boolean',
        help: 'run against the running stack of this configuration instead of a stack of its own',
      },
      keep: { type: 'boolean', help: "leave the simulation's own stack running at the end (to look around)" },
      out: { type: 'string', help: 'where to write the report (default reports/sim)' },
    },
    async run(config, { values, positionals }) {
      if (values.list) {
        const flag = ['reuse', 'keep', 'out'].find((k) => values[k] !== undefined);
        if (positionals.length > 0 || flag)
          throw new UsageError(
            `--list takes no ${flag ? `--${flag}` : 'scenario'}: it only lists the library.`,
          );
        out.line(renderScenarioList(config));
        return 0;
      }
      if (positionals.length !== 1)
        throw new UsageError('sim takes one scenario: a file or a name from "factory sim --list".');
      const file = scenarioFile(positionals[0]!);
      if (!file)
        throw new UsageError(
          `No scenario "${positionals[0]}": give a .yaml file or a name from "factory sim --list".`,
        );
      const loaded = loadForRun(config, file);
      if (!loaded.ok) throw new UsageError(`the scenario is not valid:\n${loaded.reason}`);
      const scenario = loaded.scenario;
      if (scenario.clock === 'simulated' && (values.reuse || values.keep))
        throw new UsageError(
          `${scenario.name} runs on simulated time, with no stack: --reuse and --keep do not apply.`,
        );
      const outDir = resolve(String(values.out ?? join(projectRoot, 'reports', 'sim')));
      return sim(config, { scenario, reuse: values.reuse === true, keep: values.keep === true, outDir }, out);
    },
  },
  bench: {
    summary: 'run the benchmarks and write JSON results (reports/bench/)',
    usage:
      'bench [--machines N] [--seconds S] [--failover [--kills K]] [--pause-soak] [--broker-crash] [--rounds R] [--pipeline [--rate R] [--duration S] [--publishers P]] [--alarms [--minutes M] [--every S]] [--workflows [--flood N] [--over S] [--burst N]] [--out DIR]',
    options: {
      machines: { type: 'string', help: 'fleet size for the actor benchmark (default 10000)' },
      seconds: { type: 'string', help: 'simulated seconds per machine (default 20)' },
      pipeline: {
        type: 'boolean',
        help: "also measure the running stack's ingestion capacity, against the raw broker (factory up first)",
      },
      rate: {
        type: 'string',
        help: 'readings per second offered to the pipeline, over all publishers (default 20000: more than it takes)',
      },
      duration: { type: 'string', help: 'seconds of pipeline load (default 20)' },
      publishers: {
        type: 'string',
        help: `MQTT connections offering the pipeline load, 1-${MAX_BENCH_PUBLISHERS} (default 4)`,
      },
      failover: {
        type: 'boolean',
        help: "also kill the running stack's workers (SIGKILL) and measure failover and rebalance (factory up first)",
      },
      kills: { type: 'string', help: 'worker kills for --failover (default 10)' },
      'pause-soak': {
        type: 'boolean',
        help: "also stop the running stack's workers (SIGSTOP) past their session, resume them and count stale readings (factory up first)",
      },
      'broker-crash': {
        type: 'boolean',
        help: "also crash the running stack's MQTT broker (SIGKILL, SIGKILL with its data lost, SIGTERM), let the keeper restart it and check that nothing is lost (factory up --machines 1000 first)",
      },
      rounds: {
        type: 'string',
        help: 'pauses for --pause-soak (default 20); rounds of the three crashes for --broker-crash (default 3)',
      },
      alarms: {
        type: 'boolean',
        help: "also inject random faults into the running stack's machines and score the alarms: detection latency, precision, recall (factory up --machines 200 first)",
      },
      minutes: { type: 'string', help: 'minutes of fault injection for --alarms (default 30)' },
      every: { type: 'string', help: 'seconds between injected faults for --alarms (default 10)' },
      workflows: {
        type: 'boolean',
        help: "also flood the running stack's alarm dispatcher and time alarm event → escalation started (factory up first)",
      },
      flood: { type: 'string', help: 'alarms in the --workflows flood (default 500)' },
      over: { type: 'string', help: 'seconds the --workflows flood is spread over (default 60)' },
      burst: { type: 'string', help: 'alarms sent at once for the --workflows capacity (default 1000)' },
      out: { type: 'string', help: 'where to write the JSON results (default reports/bench)' },
    },
    async run(config, { values }) {
      const machines = wholeNumber('machines', values.machines, 10_000);
      const seconds = wholeNumber('seconds', values.seconds, 20);
      const outDir = resolve(String(values.out ?? join(projectRoot, 'reports', 'bench')));
      const loadFlags = ['rate', 'duration', 'publishers'].filter((k) => values[k] !== undefined);
      if (!values.pipeline && loadFlags.length > 0) {
        throw new UsageError(`--${loadFlags[0]} applies to the pipeline benchmark: add --pipeline.`);
      }
      const publishers = wholeNumber('publishers', values.publishers, 4);
      if (publishers > MAX_BENCH_PUBLISHERS) {
        throw new UsageError(`--publishers must be at most ${MAX_BENCH_PUBLISHERS}, not ${publishers}.`);
      }
      const rate = wholeNumber('rate', values.rate, 20_000);
      const pipeline = values.pipeline
        ? {
            config,
            rate,
            seconds: wholeNumber('duration', values.duration, 20),
            publishers,
            // At most 100 readings per second per machine, so its unique timestamps stay near
            // the clock (the writer measures end-to-end latency from them).
            machines: Math.max(500, Math.ceil(rate / 100)),
          }
        : undefined;
      if (!values.failover && values.kills !== undefined)
        throw new UsageError('--kills applies to --failover.');
      const failover = values.failover
        ? { config, kills: wholeNumber('kills', values.kills, 10) }
        : undefined;
      if (!values['pause-soak'] && !values['broker-crash'] && values.rounds !== undefined)
        throw new UsageError('--rounds applies to --pause-soak and --broker-crash.');
      const pauseSoak = values['pause-soak']
        ? { config, rounds: wholeNumber('rounds', values.rounds, 20) }
        : undefined;
      const brokerCrash = values['broker-crash']
        ? { config, rounds: wholeNumber('rounds', values.rounds, 3) }
        : undefined;
      if (!values.alarms && (values.minutes !== undefined || values.every !== undefined))
        throw new UsageError('--minutes and --every apply to --alarms.');
      const alarms = values.alarms
        ? {
            config,
            minutes: wholeNumber('minutes', values.minutes, 30),
            everyS: wholeNumber('every', values.every, 10),
            holdS: 120,
            graceS: 60,
          }
        : undefined;
      const wfFlags = ['flood', 'over', 'burst'].filter((k) => values[k] !== undefined);
      if (!values.workflows && wfFlags.length > 0)
        throw new UsageError(`--${wfFlags[0]} applies to the workflow benchmark: add --workflows.`);
      const workflows = values.workflows
        ? {
            config,
            flood: wholeNumber('flood', values.flood, 500),
            overS: wholeNumber('over', values.over, 60),
            burst: wholeNumber('burst', values.burst, 1000),
          }
        : undefined;
      await bench(
        { machines, seconds, outDir, pipeline, failover, pauseSoak, brokerCrash, alarms, workflows },
        out,
      );
      return 0;
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.values(commands).map((c) => c.usage.length));
  return [
    'Usage: factory <command> [options]',
    '',
    'Commands:',
    ...Object.values(commands).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Run "factory <command> --help" for a command\'s options. Addresses, data directory and',
    'secrets are set by FACTORY_* environment variables (see docs/runbook.md).',
  ].join('\n');
}

function commandHelp(c: Command): string {
  const opts = Object.entries(c.options ?? {}).map(
    ([k, o]) => `  --${k}${o.type === 'string' ? ' <value>' : ''}  ${o.help}`,
  );
  return [
    `Usage: factory ${c.usage}`,
    '',
    c.summary,
    ...(opts.length ? ['', 'Options:', ...opts] : []),
    '  --help  show this help',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    out.line(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`factory: unknown command "${name}"; run "factory --help" to see the commands.\n`);
    return 2;
  }
  let args: { values: Record<string, unknown>; positionals: string[] };
  try {
    const options = Object.fromEntries(
      Object.entries(command.options ?? {}).map(([k, o]) => [
        k,
        { type: o.type, multiple: o.multiple ?? false },
      ]),
    );
    args = parseArgs({
      args: rest,
      options: { ...options, help: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    process.stderr.write(
      `factory ${name}: ${(err as Error).message.split('\n')[0]} (see "factory ${name} --help").\n`,
    );
    return 2;
  }
  if (args.values.help) {
    out.line(commandHelp(command));
    return 0;
  }
  try {
    return await command.run(loadConfig(), args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`factory ${name}: ${err.message}\n`);
      return 2;
    }
    if (
      err instanceof StackError ||
      err instanceof InstallError ||
      err instanceof ConfigError ||
      err instanceof CredentialsError
    ) {
      process.stderr.write(`factory ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
