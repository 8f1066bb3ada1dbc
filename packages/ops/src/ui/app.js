// The web UI of @unfazed/ops: plain ES module, no dependencies, no build step. Pages are hash
// routes of one page served at {base}/; the API is at {base}/api/ (relative URLs). Every value
// from the API goes into the page as text (text nodes, textContent, setAttribute), never as HTML.

const main = document.getElementById('main');
const enc = encodeURIComponent;
const STATES = ['failed', 'dead', 'compensated', 'compensating'];
const COUNTS = ['pending', 'running', 'failed', 'dead', 'compensating', 'compensated', 'completed'];
const FILTER_KEYS = ['type', 'state', 'errorCode', 'status', 'since', 'until', 'text'];

/** An element: props are attributes (`on*`: listeners), children are nodes or text. */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}
const td = (label, ...c) => h('td', { 'data-label': label }, ...c);

async function call(method, path, body) {
  const headers = { accept: 'application/json' };
  if (method === 'POST') {
    headers['x-unfazed-ops'] = '1';
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(new URL(`api/${path}`, document.baseURI), {
    method,
    headers,
    credentials: 'same-origin',
    body: method === 'POST' ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (!res.ok) throw new Error(`${res.status} ${data?.code ?? ''}: ${data?.detail ?? text}`);
  return data;
}

// ---- formatting (all to text)

const time = (t) =>
  t === undefined || t === null
    ? '—'
    : h(
        'time',
        { datetime: new Date(t).toISOString() },
        new Date(t)
          .toISOString()
          .replace('T', ' ')
          .replace(/\.\d+Z$/, 'Z'),
      );
function ms(n) {
  if (n === undefined || n === null) return '—';
  if (n < 1000) return `${Math.round(n)} ms`;
  if (n < 60_000) return `${(n / 1000).toFixed(1)} s`;
  if (n < 3_600_000) return `${(n / 60_000).toFixed(1)} min`;
  return `${(n / 3_600_000).toFixed(1)} h`;
}
const badge = (state) =>
  h('span', { class: `badge ${/^[a-z]+$/.test(state) ? state : ''}` }, state ?? '—');
const clip = (s, n = 120) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);
const json = (v) => h('pre', { class: 'json' }, JSON.stringify(v, null, 2) ?? 'undefined');
const opLink = (id) => h('a', { href: `#/operations/${enc(id)}` }, id);
function errorText(e) {
  if (!e) return '—';
  const status = e.status !== undefined && !String(e.code).includes(String(e.status));
  return `${e.code}${status ? ` (${e.status})` : ''}${e.message ? `: ${e.message}` : ''}`;
}
function dl(pairs) {
  return h(
    'dl',
    { class: 'facts' },
    pairs.filter((p) => p[1] !== undefined).map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]),
  );
}

function toast(message) {
  const t = document.getElementById('toast');
  t.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.textContent = ''), 6000);
}

/**
 * Asks for a reason in a modal dialog and runs `run(reason, extra)`; an error keeps the dialog
 * open and shows it. Resolves the result, or `null` when cancelled.
 */
function ask({ title, text, confirm = 'Confirm', extra, run }) {
  const dialog = document.getElementById('ask');
  const form = document.getElementById('ask-form');
  const reason = document.getElementById('ask-reason');
  const error = document.getElementById('ask-error');
  document.getElementById('ask-title').textContent = title;
  document.getElementById('ask-text').textContent = text ?? '';
  document.getElementById('ask-extra').replaceChildren(...(extra ? [extra] : []));
  document.getElementById('ask-ok').textContent = confirm;
  reason.value = '';
  error.textContent = '';
  return new Promise((resolve) => {
    const done = (value) => {
      form.onsubmit = dialog.oncancel = document.getElementById('ask-cancel').onclick = null;
      dialog.close();
      resolve(value);
    };
    document.getElementById('ask-cancel').onclick = () => done(null);
    dialog.oncancel = (e) => {
      e.preventDefault();
      done(null);
    };
    form.onsubmit = async (e) => {
      e.preventDefault();
      if (reason.value.trim() === '') {
        error.textContent = 'A reason is required: it is written to the audit log.';
        reason.focus();
        return;
      }
      error.textContent = '';
      try {
        done(await run(reason.value.trim()));
      } catch (err) {
        error.textContent = err.message;
      }
    };
    dialog.showModal();
    reason.focus();
  });
}

// ---- pages

async function overview() {
  const q = await call('GET', 'queues');
  const rows = q.queues.map((row) => {
    const action = row.paused ? 'resume' : 'pause';
    const btn = h(
      'button',
      {
        type: 'button',
        class: row.paused ? '' : 'secondary',
        disabled: !q.pauseSupported,
        onclick: async () => {
          const r = await ask({
            title: `${row.paused ? 'Resume' : 'Pause'} ${row.type}`,
            text: row.paused
              ? 'Workers take its pending operations again, due at once.'
              : 'Workers stop leasing its pending operations; an attempt under a lease finishes.',
            confirm: row.paused ? 'Resume' : 'Pause',
            run: (reason) => call('POST', `types/${enc(row.type)}/${action}`, { reason }),
          });
          if (r) {
            toast(`${row.type} ${r.paused ? 'paused' : 'resumed'} (audit ${r.auditId})`);
            await render();
          }
        },
      },
      row.paused ? 'Resume…' : 'Pause…',
    );
    const link = (state) => {
      const n = row.counts[state] ?? 0;
      return STATES.includes(state) && n > 0
        ? h('a', { href: `#/search?type=${enc(row.type)}&state=${state}` }, n)
        : n;
    };
    return h(
      'tr',
      {},
      h(
        'th',
        { scope: 'row', 'data-label': 'type' },
        h('a', { href: `#/search?type=${enc(row.type)}` }, row.type),
      ),
      COUNTS.map((s) => td(s, link(s))),
      td('due', row.due),
      td('in flight', row.inFlight),
      td('oldest pending', row.oldestPendingAgeMs === null ? '—' : ms(row.oldestPendingAgeMs)),
      td('paused', row.paused ? badge('paused') : 'no'),
      td('action', btn),
    );
  });
  return [
    h('h1', { tabindex: -1 }, 'Queues'),
    h(
      'p',
      { class: 'muted' },
      `${q.store} store, as of `,
      time(q.at),
      ' ',
      h('button', { type: 'button', class: 'secondary', onclick: () => render() }, 'Refresh'),
    ),
    q.queues.length === 0
      ? h('p', {}, 'No operations yet.')
      : h(
          'table',
          { class: 'stack' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, 'type'),
              [...COUNTS, 'due', 'in flight', 'oldest pending', 'paused', 'action'].map((c) =>
                h('th', { scope: 'col' }, c),
              ),
            ),
          ),
          h('tbody', {}, rows),
        ),
  ];
}

/** The search filter of the hash's query: API query parameters. */
function filterParams(params) {
  const out = new URLSearchParams();
  for (const k of FILTER_KEYS) if (params.get(k)) out.set(k, params.get(k));
  return out;
}
const localInput = (t) =>
  t
    ? new Date(Number(t) - new Date(Number(t)).getTimezoneOffset() * 60_000)
        .toISOString()
        .slice(0, 16)
    : '';

async function search({ params, live }) {
  const f = filterParams(params);
  const queues = await call('GET', 'queues').catch(() => ({ queues: [] }));
  const field = (name, label, input) =>
    h('div', { class: 'field' }, h('label', { for: `f-${name}` }, label), input);
  const states = (f.get('state') ?? '').split(',');
  const form = h(
    'form',
    { class: 'filters', role: 'search', 'aria-label': 'Filter operations' },
    field(
      'type',
      'Type',
      h(
        'select',
        { id: 'f-type', name: 'type' },
        h('option', { value: '' }, 'any'),
        [
          ...new Set([
            ...queues.queues.map((q) => q.type),
            ...(f.get('type') ? [f.get('type')] : []),
          ]),
        ].map((t) => h('option', { value: t, selected: t === f.get('type') }, t)),
      ),
    ),
    h(
      'fieldset',
      { class: 'field' },
      h('legend', {}, 'State'),
      STATES.map((s) =>
        h(
          'label',
          { class: 'check' },
          h('input', { type: 'checkbox', name: 'state', value: s, checked: states.includes(s) }),
          ` ${s}`,
        ),
      ),
    ),
    field(
      'errorCode',
      'Error code',
      h('input', {
        id: 'f-errorCode',
        name: 'errorCode',
        value: f.get('errorCode') ?? '',
        placeholder: 'status 404, deadline…',
      }),
    ),
    field(
      'status',
      'HTTP status',
      h('input', {
        id: 'f-status',
        name: 'status',
        type: 'number',
        min: 100,
        max: 599,
        value: f.get('status') ?? '',
      }),
    ),
    field(
      'since',
      'Finished since (local)',
      h('input', {
        id: 'f-since',
        name: 'since',
        type: 'datetime-local',
        value: localInput(f.get('since')),
      }),
    ),
    field(
      'until',
      'Finished until (local)',
      h('input', {
        id: 'f-until',
        name: 'until',
        type: 'datetime-local',
        value: localInput(f.get('until')),
      }),
    ),
    field(
      'text',
      'Text in input or error',
      h('input', { id: 'f-text', name: 'text', type: 'search', value: f.get('text') ?? '' }),
    ),
    h(
      'div',
      { class: 'buttons' },
      h('button', { type: 'submit' }, 'Search'),
      h('a', { class: 'button secondary', href: `#/bulk?${f}` }, 'Bulk redrive these…'),
    ),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    const next = new URLSearchParams();
    for (const k of ['type', 'errorCode', 'status', 'text'])
      if (String(data.get(k)).trim()) next.set(k, String(data.get(k)).trim());
    if (data.getAll('state').length) next.set('state', data.getAll('state').join(','));
    for (const k of ['since', 'until'])
      if (data.get(k)) next.set(k, String(new Date(String(data.get(k))).getTime()));
    location.hash = `#/search?${next}`;
  });

  const tbody = h('tbody', {});
  const status = h('p', { class: 'muted', role: 'status' });
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let cursor;
  let shown = 0;
  const load = async () => {
    more.disabled = true;
    // A short (even empty) page can carry a cursor: read on until something shows (bounded).
    for (let i = 0; i < 20; i++) {
      const q = new URLSearchParams(f);
      q.set('limit', '50');
      if (cursor) q.set('cursor', cursor);
      const page = await call('GET', `operations?${q}`);
      if (!live()) return;
      cursor = page.cursor;
      for (const r of page.items) {
        tbody.append(
          h(
            'tr',
            {},
            h('th', { scope: 'row', 'data-label': 'id' }, opLink(r.id)),
            td('type', r.type),
            td('state', badge(r.state)),
            td('attempts', r.attempts),
            td('finished', time(r.finishedAt ?? r.updatedAt)),
            td('last error', clip(errorText(r.lastError))),
            td('input', h('code', {}, clip(JSON.stringify(r.input) ?? ''))),
          ),
        );
      }
      shown += page.items.length;
      if (page.items.length > 0 || !cursor) break;
    }
    status.textContent = `${shown} shown${cursor ? '; more may match' : ''}.`;
    more.hidden = !cursor;
    more.disabled = false;
  };
  more.addEventListener('click', () => load().catch((e) => (status.textContent = e.message)));
  await load();
  const table = h(
    'table',
    { class: 'stack' },
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ['id', 'type', 'state', 'attempts', 'finished', 'last error', 'input'].map((c) =>
          h('th', { scope: 'col' }, c),
        ),
      ),
    ),
    tbody,
  );
  return [
    h('h1', { tabindex: -1 }, 'Search failed work'),
    form,
    h('h2', {}, 'Results'),
    status,
    table,
    more,
  ];
}

async function detail({ args }) {
  const id = args[0];
  const op = await call('GET', `operations/${enc(id)}`);
  const canRedrive = op.state === 'failed' || op.state === 'dead';
  const canDiscard = canRedrive || op.state === 'compensated';
  const redrive = async (edit) => {
    let editor;
    if (edit)
      editor = h(
        'div',
        { class: 'field' },
        h(
          'label',
          { for: 'edit-input' },
          'Input (JSON; replaces the whole input: redacted values read "[redacted]")',
        ),
        h('textarea', { id: 'edit-input', rows: 8, class: 'json' }),
      );
    if (editor) editor.querySelector('textarea').value = JSON.stringify(op.input, null, 2);
    const r = await ask({
      title: edit ? 'Redrive with an edited input' : 'Redrive',
      text: `${op.type} ${op.id} goes back to pending, due now, with a fresh deadline.`,
      confirm: 'Redrive',
      extra: editor,
      run: (reason) => {
        const body = { reason };
        if (editor) {
          try {
            body.input = JSON.parse(editor.querySelector('textarea').value);
          } catch (e) {
            throw new Error(`The input is not JSON: ${e.message}`);
          }
        }
        return call('POST', `operations/${enc(op.id)}/redrive`, body);
      },
    });
    if (r) {
      toast(`Redriven${r.inputEdited ? ' with an edited input' : ''} (audit ${r.auditId})`);
      await render();
    }
  };
  const discard = async () => {
    const r = await ask({
      title: 'Discard',
      text: `${op.type} ${op.id} is deleted for good.`,
      confirm: 'Discard',
      run: (reason) => call('POST', `operations/${enc(op.id)}/discard`, { reason }),
    });
    if (r) {
      toast(`Discarded ${r.id} (audit ${r.auditId})`);
      location.hash = '#/search';
    }
  };
  const out = [
    h('h1', { tabindex: -1 }, 'Operation ', h('code', {}, op.id)),
    dl([
      ['type', h('a', { href: `#/search?type=${enc(op.type)}` }, op.type)],
      [
        'state',
        [
          badge(op.state),
          op.viewState && op.viewState !== op.state ? [' ', badge(op.viewState)] : null,
          op.paused ? [' ', badge('paused')] : null,
        ],
      ],
      ['attempts', op.attempts],
      ['created', time(op.createdAt)],
      ['updated', time(op.updatedAt)],
      ['finished', op.finishedAt !== undefined ? time(op.finishedAt) : undefined],
      ['deadline', time(op.deadline)],
      ['key', op.key],
      ['last error', op.lastError ? errorText(op.lastError) : undefined],
      ['next', op.next?.description],
    ]),
    h(
      'div',
      { class: 'buttons actions', role: 'group', 'aria-label': 'Actions' },
      h(
        'button',
        { type: 'button', disabled: !canRedrive, onclick: () => redrive(false) },
        'Redrive…',
      ),
      h(
        'button',
        { type: 'button', class: 'secondary', disabled: !canRedrive, onclick: () => redrive(true) },
        'Redrive with edited input…',
      ),
      h(
        'button',
        { type: 'button', class: 'danger', disabled: !canDiscard, onclick: discard },
        'Discard…',
      ),
    ),
  ];
  if (op.saga) {
    out.push(
      h('h2', {}, 'Saga steps'),
      h(
        'ol',
        { class: 'steps', 'aria-label': 'Saga steps' },
        op.saga.steps.map((s, i) => {
          const current = i === op.saga.step;
          return h(
            'li',
            { class: `step ${current ? 'current' : ''}`, 'aria-current': current ? 'step' : false },
            h('strong', {}, s.name),
            badge(s.state),
            h('span', { class: 'muted' }, `${s.attempts} attempt${s.attempts === 1 ? '' : 's'}`),
            s.compensationAttempts
              ? h(
                  'span',
                  { class: 'muted' },
                  `${s.compensationAttempts} compensation attempt${s.compensationAttempts === 1 ? '' : 's'}`,
                )
              : null,
            s.lastError ? h('span', { class: 'small' }, clip(errorText(s.lastError), 80)) : null,
            current ? h('span', { class: 'marker' }, 'current') : null,
          );
        }),
      ),
    );
    if (op.saga.stuck)
      out.push(h('p', { class: 'error' }, 'Stuck: a compensation keeps failing (still retried).'));
  }
  out.push(
    h('h2', {}, 'Timeline'),
    h(
      'table',
      { class: 'stack' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          [
            'time',
            'what',
            'step',
            'attempt',
            'status / error',
            'duration',
            'delay (why)',
            'worker',
            'note',
          ].map((c) => h('th', { scope: 'col' }, c)),
        ),
      ),
      h(
        'tbody',
        {},
        op.history.map((e) =>
          h(
            'tr',
            {},
            td('time', time(e.at)),
            td('what', e.kind),
            td('step', e.step ?? '—'),
            td('attempt', e.attempt ?? '—'),
            td(
              'status / error',
              [e.status, e.error].filter((x) => x !== undefined).join(' ') || '—',
            ),
            td('duration', ms(e.durationMs)),
            td(
              'delay (why)',
              e.delayMs !== undefined
                ? `${ms(e.delayMs)}${e.delayReason ? ` (${e.delayReason})` : ''}`
                : '—',
            ),
            td('worker', e.worker ?? '—'),
            td('note', e.note ?? ''),
          ),
        ),
      ),
    ),
  );
  out.push(h('h2', {}, 'Input'), json(op.input));
  if (op.lastError?.response) out.push(h('h2', {}, 'Last response'), json(op.lastError.response));
  if (op.response) out.push(h('h2', {}, 'Response'), json(op.response));
  if (op.saga && Object.keys(op.saga.results).length)
    out.push(h('h2', {}, 'Step results'), json(op.saga.results));
  return out;
}

async function bulk({ params, live }) {
  const f = filterParams(params);
  const filter = {};
  for (const [k, v] of f) {
    if (k === 'state') {
      const s = v.split(',').filter((x) => x === 'failed' || x === 'dead');
      if (s.length) filter.states = s;
    } else filter[k] = ['status', 'since', 'until'].includes(k) ? Number(v) : v;
  }
  const result = h('div', { role: 'status', 'aria-live': 'polite' });
  const rate = h('input', { id: 'b-rate', type: 'number', min: 0.1, step: 'any', value: 10 });
  const reason = h('textarea', { id: 'b-reason', rows: 2, required: true, maxlength: 2000 });
  const start = async (count) => {
    const job = await call('POST', 'bulk-redrives', {
      filter,
      reason: reason.value.trim(),
      rate: Number(rate.value),
    });
    toast(`Bulk redrive ${job.id} started: ${count} operations`);
    location.hash = `#/bulk/${enc(job.id)}`;
  };
  const form = h(
    'form',
    { class: 'filters' },
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'b-rate' }, 'Rate (operations per second)'),
      rate,
    ),
    h(
      'div',
      { class: 'field wide' },
      h('label', { for: 'b-reason' }, 'Reason (written to the audit log)'),
      reason,
    ),
    h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Dry run')),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!reason.value.trim()) {
      result.replaceChildren(h('p', { class: 'error' }, 'A reason is required.'));
      return reason.focus();
    }
    result.replaceChildren(h('p', { class: 'muted' }, 'Counting…'));
    try {
      const d = await call('POST', 'bulk-redrives', {
        filter,
        reason: reason.value.trim(),
        rate: Number(rate.value),
        dryRun: true,
      });
      if (!live()) return;
      const go = h(
        'button',
        { type: 'button', disabled: d.count === 0 },
        `Redrive ${d.count} operations`,
      );
      go.addEventListener('click', () =>
        start(d.count).catch((err) => result.append(h('p', { class: 'error' }, err.message))),
      );
      result.replaceChildren(
        h(
          'p',
          { class: 'count' },
          `Dry run: ${d.count}${d.capped ? '+ (capped)' : ''} operation${d.count === 1 ? '' : 's'} match.`,
        ),
        h(
          'table',
          { class: 'stack' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              ['id', 'type', 'state', 'last error'].map((c) => h('th', { scope: 'col' }, c)),
            ),
          ),
          h(
            'tbody',
            {},
            d.sample.map((r) =>
              h(
                'tr',
                {},
                h('th', { scope: 'row', 'data-label': 'id' }, opLink(r.id)),
                td('type', r.type),
                td('state', badge(r.state)),
                td('last error', clip(errorText(r.lastError))),
              ),
            ),
          ),
        ),
        h('div', { class: 'buttons' }, go),
      );
      go.focus();
    } catch (err) {
      result.replaceChildren(h('p', { class: 'error' }, err.message));
    }
  });
  const shownFilter =
    Object.entries(filter)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`)
      .join(', ') || 'every failed and dead operation';
  return [
    h('h1', { tabindex: -1 }, 'Bulk redrive'),
    h(
      'p',
      {},
      'Filter: ',
      h('code', {}, shownFilter),
      ' ',
      h('a', { href: `#/search?${f}` }, 'change in Search'),
    ),
    h(
      'p',
      { class: 'muted' },
      'A dry run counts the matches and shows a sample; the redrive is paced by the rate and held while the target circuit is open.',
    ),
    form,
    result,
  ];
}

async function progress({ args, live }) {
  const id = args[0];
  const box = h('div', {});
  const cancel = h('button', { type: 'button', class: 'danger', hidden: true }, 'Cancel…');
  cancel.addEventListener('click', async () => {
    const r = await ask({
      title: 'Cancel the bulk redrive',
      text: 'Operations not yet redriven stay as they are.',
      confirm: 'Cancel it',
      run: (reason) => call('POST', `bulk-redrives/${enc(id)}/cancel`, { reason }),
    });
    if (r) draw(r);
  });
  const draw = (job) => {
    const finished = !['running', 'held'].includes(job.state);
    cancel.hidden = finished;
    box.replaceChildren(
      h(
        'p',
        {},
        badge(job.state),
        ` ${job.redriven} of ${job.total} redriven, ${job.failed.length} failed`,
      ),
      h('progress', {
        max: Math.max(job.total, 1),
        value: job.redriven + job.failed.length,
        'aria-label': 'Progress',
      }),
      dl([
        ['rate', `${job.rate}/s`],
        ['target', job.target],
        ['started by', job.createdBy],
        ['reason', job.reason],
        ['started', time(job.startedAt)],
        ['finished', job.finishedAt !== undefined ? time(job.finishedAt) : undefined],
        ['held until', job.heldUntil !== undefined ? time(job.heldUntil) : undefined],
        ['held for', ms(job.heldMs)],
        ['cancelled by', job.cancelledBy],
        ['cancel reason', job.cancelReason],
        ['error', job.error],
        ['filter', JSON.stringify(job.filter)],
      ]),
      job.failed.length
        ? [
            h('h2', {}, 'Failed items'),
            h(
              'table',
              { class: 'stack' },
              h(
                'thead',
                {},
                h('tr', {}, h('th', { scope: 'col' }, 'id'), h('th', { scope: 'col' }, 'error')),
              ),
              h(
                'tbody',
                {},
                job.failed.map((x) =>
                  h(
                    'tr',
                    {},
                    h('th', { scope: 'row', 'data-label': 'id' }, opLink(x.id)),
                    td('error', x.error),
                  ),
                ),
              ),
            ),
          ]
        : null,
    );
    return finished;
  };
  const poll = async () => {
    if (!live()) return;
    try {
      if (!draw(await call('GET', `bulk-redrives/${enc(id)}`))) setTimeout(poll, 500);
    } catch (e) {
      box.append(h('p', { class: 'error' }, e.message));
    }
  };
  if (!draw(await call('GET', `bulk-redrives/${enc(id)}`))) setTimeout(poll, 500);
  return [
    h('h1', { tabindex: -1 }, 'Bulk redrive ', h('code', {}, id)),
    box,
    h('div', { class: 'buttons' }, cancel, h('a', { href: '#/audit' }, 'Audit log')),
  ];
}

async function audit({ live }) {
  const tbody = h('tbody', {});
  const more = h('button', { type: 'button', class: 'secondary', hidden: true }, 'Load more');
  let cursor;
  const load = async () => {
    const page = await call('GET', `audit?limit=50${cursor ? `&cursor=${enc(cursor)}` : ''}`);
    if (!live()) return;
    cursor = page.cursor;
    for (const a of page.items) {
      const subject = a.operationId
        ? opLink(a.operationId)
        : a.jobId
          ? h('a', { href: `#/bulk/${enc(a.jobId)}` }, `bulk ${a.jobId}`)
          : (a.type ?? '—');
      tbody.append(
        h(
          'tr',
          {},
          td('time', time(a.at)),
          td('who', a.who),
          td('action', badge(a.action)),
          td('subject', subject),
          td('filter', a.filter ? h('code', {}, JSON.stringify(a.filter)) : '—'),
          td('count', a.count),
          td('reason', a.reason),
          td(
            'edited input',
            a.input !== undefined ? h('code', {}, clip(JSON.stringify(a.input))) : '—',
          ),
        ),
      );
    }
    more.hidden = !cursor;
  };
  more.addEventListener('click', () => load().catch((e) => toast(e.message)));
  await load();
  return [
    h('h1', { tabindex: -1 }, 'Audit log'),
    h('p', { class: 'muted' }, 'Every action, newest first.'),
    h(
      'table',
      { class: 'stack' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ['time', 'who', 'action', 'subject', 'filter', 'count', 'reason', 'edited input'].map(
            (c) => h('th', { scope: 'col' }, c),
          ),
        ),
      ),
      tbody,
    ),
    more,
  ];
}

// ---- router

const routes = [
  [/^\/$/, overview, 'overview'],
  [/^\/search$/, search, 'search'],
  [/^\/operations\/([^/]+)$/, detail, 'search'],
  [/^\/bulk$/, bulk, 'search'],
  [/^\/bulk\/([^/]+)$/, progress, 'search'],
  [/^\/audit$/, audit, 'audit'],
];
let generation = 0;

async function render() {
  const gen = ++generation;
  const hash = location.hash.slice(1) || '/';
  const q = hash.indexOf('?');
  const path = q < 0 ? hash : hash.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : hash.slice(q + 1));
  const route = routes.find(([re]) => re.test(path));
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (route && a.dataset.nav === route[2]) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  let view;
  try {
    if (!route) throw new Error(`No page ${path}`);
    const args = route[0].exec(path).slice(1).map(decodeURIComponent);
    view = await route[1]({ params, args, live: () => gen === generation });
  } catch (e) {
    view = [
      h('h1', { tabindex: -1 }, 'Something went wrong'),
      h('p', { class: 'error', role: 'alert' }, e.message),
      h('p', {}, h('a', { href: '#/' }, 'Back to the queues')),
    ];
  }
  if (gen !== generation) return;
  main.replaceChildren(...[view].flat());
  document.title = `${main.querySelector('h1')?.textContent ?? 'Ops'} · Unfazed ops`;
  // Keyboard and screen-reader users land on the new page's heading.
  main.querySelector('h1')?.focus({ preventScroll: true });
}

window.addEventListener('hashchange', () => render());
render();
