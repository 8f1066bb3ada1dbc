import type { BenchResults, Measure, Spread } from './results.js';

/** A figure in its unit: counts per second without decimals, times and sizes readable. */
export function formatValue(value: number, unit: string): string {
  if (!Number.isFinite(value)) return String(value);
  switch (unit) {
    case 'req/s':
    case 'ops/s':
    case 'B':
      return Math.round(value).toLocaleString('en-US');
    case 'µs':
      return value.toFixed(1);
    case 'ms':
      return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
    case 'commands':
      return value.toFixed(2);
    default:
      return value.toPrecision(4);
  }
}

/** `median (min–max)` of a spread. */
export function formatSpread(s: Spread, unit: string): string {
  const m = formatValue(s.median, unit);
  if (s.n < 2 || s.min === s.max) return `${m}${s.n < 2 ? '' : ' (every round)'}`;
  return `${m} (${formatValue(s.min, unit)}–${formatValue(s.max, unit)})`;
}

function ratioText(s: Spread): string {
  return `**${s.median.toFixed(3)}** (${s.min.toFixed(3)}–${s.max.toFixed(3)})`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** The results table in Markdown: one row per measure. */
export function renderTable(measures: readonly Measure[]): string {
  const lines = [
    '| suite | scenario | metric | baseline: median (min–max) | unfazed: median (min–max) | ratio unfazed/baseline | target |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const m of measures) {
    const unit = m.unit === 'req/s' || m.unit === 'ops/s' ? ` ${m.unit}` : ` ${m.unit}`;
    const base = m.baseline
      ? `${m.baseline.name}: ${formatSpread(m.baseline.value, m.unit)}${unit}`
      : '—';
    const subject = `${m.subject.name}: ${formatSpread(m.subject.value, m.unit)}${unit}`;
    const target = m.target ? `${m.target.text}: ${m.target.met ? 'met' : '**missed**'}` : '';
    lines.push(
      `| ${[
        m.suite,
        m.scenario,
        m.metric,
        base,
        subject,
        m.ratio ? ratioText(m.ratio) : '—',
        target,
      ]
        .map(cell)
        .join(' | ')} |`,
    );
  }
  return lines.join('\n');
}

/** `results.md`: the table, how it was measured, and each suite's notes. */
export function renderMarkdown(results: BenchResults): string {
  const e = results.environment;
  const measures = results.suites.flatMap((s) => s.measures);
  const out = [
    '# Unfazed benchmark results',
    '',
    `Mode **${results.mode}**, ${results.startedAt} → ${results.finishedAt}; Node ${e.node}, ${e.platform}, ` +
      `${e.cpus} × ${e.cpuModel}; Redis ${e.redis.version} (${e.redis.source}); 1-minute load average ` +
      `${e.loadAverage.start.toFixed(1)} at the start, ${e.loadAverage.end.toFixed(1)} at the end; ` +
      (e.packages === 'dist'
        ? 'the Unfazed packages measured as built (`dist`).'
        : 'the Unfazed packages measured from their TypeScript sources (not what users run).'),
    '',
    'Every figure is the median over the rounds of this run, with the smallest and largest round ' +
      'in brackets. Variants ran in turn (A, B, A, B …) and each ratio is computed per round, ' +
      'round i of the subject over round i of its baseline, then summarised the same way. See ' +
      '`bench/README.md` for how to read each row.',
    '',
    renderTable(measures),
    '',
  ];
  for (const suite of results.suites) {
    out.push(`## ${suite.title} (${(suite.durationMs / 1000).toFixed(1)} s)`, '');
    for (const note of suite.notes) out.push(`- ${note}`);
    out.push('');
  }
  return out.join('\n');
}
