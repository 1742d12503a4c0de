import { describe, expect, it } from 'vitest';
import {
  intervalMs,
  panelQueries,
  regexEscape,
  substitute,
  templateVariableQueries,
  unresolvedReferences,
} from './queries.js';

describe('substitute', () => {
  const none = { vars: {} };

  it('puts the default time filter and interval for $timeFilter and $__interval', () => {
    expect(substitute('SELECT mean("x") FROM m WHERE $timeFilter GROUP BY time($__interval)', none)).toBe(
      'SELECT mean("x") FROM m WHERE time >= now() - 1h GROUP BY time(10s)',
    );
  });

  it('takes a given time filter and interval, the legacy $interval and $__interval_ms too', () => {
    const s = { timeFilter: 'time >= now() - 6h', interval: '1m', vars: {} };
    expect(substitute('$timeFilter $__interval $interval $__interval_ms', s)).toBe(
      'time >= now() - 6h 1m 1m 60000',
    );
  });

  it('puts a single value as it is outside a regex', () => {
    expect(substitute(`WHERE "machine" = '$machine'`, { vars: { machine: 'M-0001' } })).toBe(
      `WHERE "machine" = 'M-0001'`,
    );
  });

  it('escapes a single value inside a regex literal', () => {
    expect(substitute('WHERE "line" =~ /^$line$/', { vars: { line: 'line.1' } })).toBe(
      'WHERE "line" =~ /^line\\.1$/',
    );
  });

  it('makes several values an escaped alternation', () => {
    expect(substitute('WHERE "line" =~ /^$line$/', { vars: { line: ['line-1', 'line-2'] } })).toBe(
      'WHERE "line" =~ /^(line-1|line-2)$/',
    );
  });

  it('gives "All" (every value, no custom all-value) as the alternation of all values', () => {
    const all = ['plant-a', 'plant-b', 'plant-c'];
    expect(substitute('"site" =~ /^$site$/', { vars: { site: all } })).toBe(
      '"site" =~ /^(plant-a|plant-b|plant-c)$/',
    );
  });

  it('escapes every regex metacharacter of a value, the slash included', () => {
    expect(regexEscape('a.b*c+d?e(f)g[h]i{j}k|l^m$n/o\\p')).toBe(
      'a\\.b\\*c\\+d\\?e\\(f\\)g\\[h\\]i\\{j\\}k\\|l\\^m\\$n\\/o\\\\p',
    );
    expect(substitute('"m" =~ /^$m$/', { vars: { m: ['a/b', 'c|d'] } })).toBe('"m" =~ /^(a\\/b|c\\|d)$/');
  });

  it('leaves a number unescaped, as Grafana does', () => {
    expect(substitute('"x" =~ /^$x$/', { vars: { x: '1.5' } })).toBe('"x" =~ /^1.5$/');
  });

  it(`knows the \${var} and [[var]] forms`, () => {
    const s = { vars: { machine: 'M-0002', line: ['l1', 'l2'] } };
    expect(substitute(`"machine" = '\${machine}' AND "line" =~ /^\${line}$/`, s)).toBe(
      `"machine" = 'M-0002' AND "line" =~ /^(l1|l2)$/`,
    );
    expect(substitute(`"machine" = '[[machine]]' AND "line" =~ /^[[line]]$/`, s)).toBe(
      `"machine" = 'M-0002' AND "line" =~ /^(l1|l2)$/`,
    );
  });

  it('applies explicit formats', () => {
    const s = { vars: { line: ['l.1', 'l2'] } };
    expect(substitute(`\${line:raw}`, s)).toBe('l.1,l2');
    expect(substitute(`\${line:pipe}`, s)).toBe('l.1|l2');
    expect(substitute(`\${line:regex}`, s)).toBe('(l\\.1|l2)');
    expect(substitute('[[line:singlequote]]', s)).toBe(`'l.1','l2'`);
    expect(() => substitute(`\${line:lucene}`, s)).toThrow(/unsupported variable format "lucene"/);
  });

  it('decides per occurrence whether a value stands in a regex', () => {
    expect(substitute(`"a" = '$m' AND "b" =~ /^$m$/ AND "c" !~ /$m/`, { vars: { m: 'x.y' } })).toBe(
      `"a" = 'x.y' AND "b" =~ /^x\\.y$/ AND "c" !~ /x\\.y/`,
    );
  });

  it('leaves an unknown variable as written, and unresolvedReferences finds it', () => {
    const out = substitute(`WHERE "a" = $nope AND "b" = \${also} AND [[third]] AND $timeFilter`, none);
    expect(out).toBe(`WHERE "a" = $nope AND "b" = \${also} AND [[third]] AND time >= now() - 1h`);
    expect(unresolvedReferences(out)).toEqual(['$nope', `\${also}`, '[[third]]']);
  });

  it('does not take a regex anchor for a reference', () => {
    expect(unresolvedReferences('"line" =~ /^(a|b)$/ AND "x" =~ /y$/')).toEqual([]);
  });
});

describe('intervalMs', () => {
  it('reads the units Grafana writes', () => {
    expect(intervalMs('250ms')).toBe(250);
    expect(intervalMs('10s')).toBe(10_000);
    expect(intervalMs('2h')).toBe(7_200_000);
    expect(() => intervalMs('soon')).toThrow(/not an interval/);
  });
});

describe('panelQueries and templateVariableQueries', () => {
  const dashboard = {
    uid: 'd1',
    title: 'D',
    templating: {
      list: [
        {
          name: 'site',
          type: 'query',
          query: 'SHOW TAG VALUES WITH KEY = "site"',
          multi: true,
          includeAll: true,
        },
        { name: 'window', type: 'custom', query: '1m,1h' },
        { name: 'modern', type: 'query', query: { query: 'SHOW MEASUREMENTS', refId: 'x' } },
      ],
    },
    panels: [
      { type: 'stat', title: 'S', targets: [{ refId: 'A', query: 'SELECT 1', datasource: { uid: 'ds' } }] },
      { type: 'row', title: 'Open row', panels: [] },
      {
        type: 'row',
        title: 'Collapsed row',
        panels: [
          {
            type: 'table',
            title: 'T',
            targets: [
              { refId: 'A', query: 'SELECT 2' },
              { refId: 'B', query: 'SELECT 3', datasource: { uid: 'ds' } },
            ],
          },
        ],
      },
      { type: 'text', title: 'No queries' },
    ],
  };

  it('lists every target, those of panels in rows too', () => {
    expect(panelQueries(dashboard)).toEqual([
      { dashboard: 'd1', panel: 'S', type: 'stat', refId: 'A', query: 'SELECT 1', datasource: 'ds' },
      { dashboard: 'd1', panel: 'T', type: 'table', refId: 'A', query: 'SELECT 2', datasource: undefined },
      { dashboard: 'd1', panel: 'T', type: 'table', refId: 'B', query: 'SELECT 3', datasource: 'ds' },
    ]);
  });

  it('reads a dashboard from its JSON text as well', () => {
    expect(panelQueries(JSON.stringify(dashboard))).toHaveLength(3);
  });

  it('gives each variable its query', () => {
    expect(templateVariableQueries(dashboard)).toEqual([
      {
        dashboard: 'd1',
        variable: 'site',
        type: 'query',
        query: 'SHOW TAG VALUES WITH KEY = "site"',
        multi: true,
        includeAll: true,
      },
      {
        dashboard: 'd1',
        variable: 'window',
        type: 'custom',
        query: '1m,1h',
        multi: false,
        includeAll: false,
      },
      {
        dashboard: 'd1',
        variable: 'modern',
        type: 'query',
        query: 'SHOW MEASUREMENTS',
        multi: false,
        includeAll: false,
      },
    ]);
  });

  it('says what is missing from something that is not a dashboard', () => {
    expect(() => panelQueries({ title: 'no uid' })).toThrow(/uid/);
  });
});
