// nascent report: reads the data embedded in #nascent-data (results/web/README.md is the contract),
// draws the charts with Vega-Lite through vegaEmbed and, in live mode, polls data_url.
// Plain ES2017, no build step. Every text taken from the data goes in through textContent; only the
// architecture drawings (SVG from Graphviz, produced by nascent itself) are inserted as markup.
(function () {
  'use strict';

  // ---------------------------------------------------------------- errors

  var errorCount = 0;
  var errorsBox = document.getElementById('report-errors');
  document.body.dataset.errors = '0';
  document.body.dataset.ready = 'false';

  function describe(value) {
    if (value instanceof Error) return value.stack && value.stack.indexOf(value.message) >= 0 ? value.stack : value.name + ': ' + value.message;
    if (typeof value === 'string') return value;
    try {
      return JSON.stringify(value);
    } catch (ignored) {
      return String(value);
    }
  }

  function reportError(text) {
    errorCount += 1;
    document.body.dataset.errors = String(errorCount);
    if (errorsBox) {
      errorsBox.textContent += text + '\n';
      var section = errorsBox.closest('section');
      if (section) section.classList.add('has-errors');
    }
  }

  var consoleError = console.error;
  console.error = function () {
    var args = Array.prototype.slice.call(arguments);
    try {
      consoleError.apply(console, args);
    } catch (ignored) {
      // the original console may be gone; the page still records the error
    }
    reportError(args.map(describe).join(' '));
  };

  var previousOnError = window.onerror;
  window.onerror = function (message, source, line, column, error) {
    var where = source ? ' (' + source.split('/').pop() + ':' + line + ':' + column + ')' : '';
    reportError(error ? describe(error) : String(message) + where);
    if (typeof previousOnError === 'function') return previousOnError.apply(this, arguments);
    return false;
  };

  window.addEventListener('unhandledrejection', function (event) {
    reportError('unhandled rejection: ' + describe(event.reason));
  });

  // ---------------------------------------------------------------- readiness

  // Work in flight: the page is ready when every chart of every render pass has been embedded.
  var pending = 0;
  function beginWork() {
    pending += 1;
    document.body.dataset.ready = 'false';
  }
  function endWork() {
    pending -= 1;
    if (pending <= 0) {
      pending = 0;
      document.body.dataset.ready = 'true';
    }
  }

  // ---------------------------------------------------------------- helpers

  var PALETTE = ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2', '#eeca3b', '#9d755d', '#ff9da6', '#bab0ac'];
  var FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
  var CHART_WIDTH = 600;
  var CHART_HEIGHT = 280;

  var VEGA_CONFIG = {
    font: FONT,
    background: '#ffffff',
    padding: 6,
    view: {stroke: '#e3e6ea'},
    axis: {
      labelFontSize: 11,
      titleFontSize: 12,
      titleFontWeight: 600,
      titleColor: '#1f2328',
      labelColor: '#444c56',
      gridColor: '#edf0f3',
      domainColor: '#a8b0b9',
      tickColor: '#a8b0b9'
    },
    legend: {labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, labelLimit: 240},
    header: {labelFontSize: 11, labelColor: '#444c56', titleFontSize: 12},
    title: {fontSize: 13, fontWeight: 600, anchor: 'start', color: '#1f2328', subtitleColor: '#57606a', subtitleFontSize: 11},
    range: {category: PALETTE}
  };

  function el(tag, options) {
    var node = document.createElement(tag);
    var opts = options || {};
    if (opts.className) node.className = opts.className;
    if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
    if (opts.title) node.title = String(opts.title);
    if (opts.attrs) {
      Object.keys(opts.attrs).forEach(function (name) {
        node.setAttribute(name, String(opts.attrs[name]));
      });
    }
    var children = Array.prototype.slice.call(arguments, 2);
    children.forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function isNum(value) {
    return typeof value === 'number' && isFinite(value);
  }

  function fmt(value) {
    if (value === null || value === undefined) return '\u2014';
    if (typeof value !== 'number') return String(value);
    if (!isFinite(value)) return String(value);
    var abs = Math.abs(value);
    if (abs >= 1e4) {
      var units = [[1e12, 'T'], [1e9, 'G'], [1e6, 'M'], [1e3, 'k']];
      for (var i = 0; i < units.length; i++) {
        if (abs >= units[i][0]) return trimNumber((value / units[i][0]).toPrecision(4)) + units[i][1];
      }
    }
    if (Number.isInteger(value)) return String(value);
    if (abs !== 0 && abs < 1e-3) return value.toExponential(2);
    return trimNumber(value.toPrecision(4));
  }

  function trimNumber(text) {
    return text.indexOf('e') >= 0 || text.indexOf('.') < 0 ? text : text.replace(/0+$/, '').replace(/\.$/, '');
  }

  function fmtSeconds(seconds) {
    if (!isNum(seconds)) return '\u2014';
    if (seconds < 60) return trimNumber(seconds.toFixed(seconds < 10 ? 2 : 1)) + ' s';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + Math.round(seconds % 60) + ' s';
    return Math.floor(seconds / 3600) + ' h ' + Math.round((seconds % 3600) / 60) + ' min';
  }

  function clock(date) {
    function two(n) {
      return (n < 10 ? '0' : '') + n;
    }
    return two(date.getHours()) + ':' + two(date.getMinutes()) + ':' + two(date.getSeconds());
  }

  function uniq(values) {
    var seen = new Set();
    var out = [];
    values.forEach(function (v) {
      if (!seen.has(v)) {
        seen.add(v);
        out.push(v);
      }
    });
    return out;
  }

  function metricValue(evaluation, name) {
    var metrics = evaluation.metrics || {};
    return Object.prototype.hasOwnProperty.call(metrics, name) ? metrics[name] : null;
  }

  // A number format for an axis whose values reach large magnitudes (FLOPs, parameter counts).
  function axisFormat(values) {
    var max = 0;
    values.forEach(function (v) {
      if (isNum(v) && Math.abs(v) > max) max = Math.abs(v);
    });
    return max >= 1e5 ? '~s' : undefined;
  }

  function axis(title, values) {
    var out = {title: title};
    var format = values ? axisFormat(values) : undefined;
    if (format) out.format = format;
    return out;
  }

  // ---------------------------------------------------------------- state

  var state = {
    data: null,
    selected: new Set(), // run ids shown
    known: new Set(), // run ids seen so far (new runs in live mode start selected)
    pick: {scatterX: null, scatterY: null, scatterXDir: null, scatterYDir: null, histogram: null, proxy: null},
    views: new Map(), // chart container -> vega view, finalized before the container is redrawn
    lastChange: null
  };

  function asArray(value) {
    return Array.isArray(value) ? value : [];
  }

  function normalise(raw) {
    var data = raw && typeof raw === 'object' ? raw : {};
    var out = {
      title: typeof data.title === 'string' ? data.title : '',
      generated_at: typeof data.generated_at === 'string' ? data.generated_at : '',
      live: data.live === true,
      data_url: typeof data.data_url === 'string' ? data.data_url : '',
      poll_ms: isNum(data.poll_ms) && data.poll_ms > 0 ? data.poll_ms : 2000,
      runs: asArray(data.runs),
      metrics: asArray(data.metrics).filter(function (m) {
        return typeof m === 'string';
      }),
      evaluations: asArray(data.evaluations),
      curves: asArray(data.curves),
      top: asArray(data.top),
      correlations: asArray(data.correlations),
      defaults: data.defaults && typeof data.defaults === 'object' ? data.defaults : {},
      directions: data.directions && typeof data.directions === 'object' ? data.directions : {}
    };
    if (out.metrics.length === 0) {
      var names = new Set();
      out.evaluations.forEach(function (e) {
        Object.keys(e.metrics || {}).forEach(function (name) {
          names.add(name);
        });
      });
      out.metrics = Array.from(names).sort();
    }
    return out;
  }

  function runsById() {
    var map = new Map();
    state.data.runs.forEach(function (run) {
      map.set(run.id, run);
    });
    return map;
  }

  function selectedRuns() {
    return state.data.runs.filter(function (run) {
      return state.selected.has(run.id);
    });
  }

  function selectedEvaluations() {
    return state.data.evaluations.filter(function (e) {
      return state.selected.has(e.run);
    });
  }

  // Colours follow a run's position among all runs, so a run keeps its colour whatever is ticked.
  function runColor(id) {
    var index = state.data.runs.findIndex(function (run) {
      return run.id === id;
    });
    return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
  }

  function colorEncoding(rows) {
    var ids = uniq(rows.map(function (row) {
      return row.run;
    })).sort(function (a, b) {
      return a - b;
    });
    if (ids.length <= 1) return {value: runColor(ids.length ? ids[0] : null)};
    return {field: 'run', type: 'nominal', title: 'run', scale: {domain: ids, range: ids.map(runColor)}, legend: {symbolOpacity: 1}};
  }

  function directionOf(metric) {
    var d = state.data.directions[metric];
    return d === 'min' ? 'min' : 'max';
  }

  function chooseMetric(current, preferred, fallbackIndex) {
    var metrics = state.data.metrics;
    if (current && metrics.indexOf(current) >= 0) return current;
    if (preferred && metrics.indexOf(preferred) >= 0) return preferred;
    if (metrics.length === 0) return null;
    return metrics[Math.min(fallbackIndex || 0, metrics.length - 1)];
  }

  function proxyMetrics() {
    // The correlated metrics, strongest (largest mean |rho|) first.
    var sums = new Map();
    state.data.correlations.forEach(function (c) {
      if (typeof c.metric !== 'string') return;
      var entry = sums.get(c.metric) || {total: 0, count: 0};
      if (isNum(c.spearman)) {
        entry.total += Math.abs(c.spearman);
        entry.count += 1;
      }
      sums.set(c.metric, entry);
    });
    return Array.from(sums.keys()).sort(function (a, b) {
      var ea = sums.get(a);
      var eb = sums.get(b);
      var ma = ea.count ? ea.total / ea.count : -1;
      var mb = eb.count ? eb.total / eb.count : -1;
      return mb - ma || (a < b ? -1 : a > b ? 1 : 0);
    });
  }

  function setData(data) {
    var previous = state.data;
    state.data = data;
    data.runs.forEach(function (run) {
      if (!state.known.has(run.id)) {
        state.known.add(run.id);
        state.selected.add(run.id);
      }
    });
    var defaults = data.defaults;
    var pick = state.pick;
    var oldX = pick.scatterX;
    var oldY = pick.scatterY;
    pick.scatterX = chooseMetric(pick.scatterX, defaults.scatter_x, 0);
    pick.scatterY = chooseMetric(pick.scatterY, defaults.scatter_y, 1);
    if (!pick.scatterXDir || pick.scatterX !== oldX) pick.scatterXDir = directionOf(pick.scatterX);
    if (!pick.scatterYDir || pick.scatterY !== oldY) pick.scatterYDir = directionOf(pick.scatterY);
    pick.histogram = chooseMetric(pick.histogram, defaults.histogram, 0);
    var proxies = proxyMetrics();
    if (!pick.proxy || proxies.indexOf(pick.proxy) < 0) pick.proxy = proxies.length ? proxies[0] : null;
    if (!previous || previous.evaluations.length !== data.evaluations.length || previous.curves.length !== data.curves.length) {
      state.lastChange = new Date();
    }
  }

  // ---------------------------------------------------------------- charts

  function finalizeView(container) {
    var view = state.views.get(container);
    if (view) {
      try {
        view.finalize();
      } catch (ignored) {
        // a view that failed half-way has nothing left to release
      }
      state.views.delete(container);
    }
  }

  // Draws `spec` (its data: `rows`) into `container`. data-points is set before the embed starts.
  function embedChart(container, rows, spec, emptyText) {
    container.setAttribute('data-points', String(rows.length));
    finalizeView(container);
    if (container.offsetHeight > 0) container.style.minHeight = container.offsetHeight + 'px';
    clear(container);
    if (rows.length === 0) {
      container.style.minHeight = '';
      container.appendChild(el('p', {className: 'chart-empty', text: emptyText || 'Nothing to draw for the selected runs.'}));
      return Promise.resolve();
    }
    if (typeof vegaEmbed !== 'function') {
      container.style.minHeight = '';
      reportError('vegaEmbed is not loaded: the charting libraries are missing from the page');
      return Promise.resolve();
    }
    spec.config = Object.assign({}, VEGA_CONFIG, spec.config || {});
    spec.data = {values: rows};
    beginWork();
    return vegaEmbed(container, spec, {actions: false, renderer: 'svg'}).then(
      function (result) {
        container.style.minHeight = '';
        if (container.isConnected) state.views.set(container, result.view);
        else result.view.finalize();
        endWork();
      },
      function (error) {
        container.style.minHeight = '';
        reportError('chart ' + (container.id || '?') + ': ' + describe(error));
        endWork();
      }
    );
  }

  // The x axis of a curve: whole ticks when every step is a whole number (epochs).
  function stepAxis(title, steps) {
    var whole = steps.every(function (step) {
      return Number.isInteger(step);
    });
    return whole ? {title: title, tickMinStep: 1} : {title: title};
  }

  function tooltipNumber(field, title) {
    return {field: field, type: 'quantitative', title: title || field, format: '.5~g'};
  }

  // -- best so far

  function bestSoFarRows() {
    var byRun = new Map();
    selectedEvaluations().forEach(function (e) {
      if (!isNum(e.fitness)) return;
      if (!byRun.has(e.run)) byRun.set(e.run, []);
      byRun.get(e.run).push(e);
    });
    var runs = runsById();
    var rows = [];
    selectedRuns().forEach(function (run) {
      var list = (byRun.get(run.id) || []).slice().sort(function (a, b) {
        return a.seq - b.seq;
      });
      var maximize = run.maximize !== false;
      var best = null;
      list.forEach(function (e, index) {
        best = best === null ? e.fitness : maximize ? Math.max(best, e.fitness) : Math.min(best, e.fitness);
        rows.push({
          run: e.run,
          seq: e.seq,
          index: index + 1,
          elapsed: isNum(e.elapsed) ? e.elapsed : null,
          fitness: e.fitness,
          best: best,
          arch: typeof e.arch === 'string' ? e.arch : '',
          stage: e.stage || ''
        });
      });
    });
    return {rows: rows, runs: runs};
  }

  function objectiveTitle(runs) {
    var objectives = uniq(runs.map(function (run) {
      return run.objective || 'fitness';
    }));
    return objectives.length === 1 ? objectives[0] : 'fitness';
  }

  function bestSpec(rows, xField, xTitle, objective) {
    var color = colorEncoding(rows);
    var ys = rows.map(function (r) {
      return r.fitness;
    });
    var x = {field: xField, type: 'quantitative', axis: axis(xTitle)};
    var tooltip = [
      {field: 'run', type: 'nominal', title: 'run'},
      {field: 'seq', type: 'quantitative', title: 'seq'},
      tooltipNumber('fitness', objective),
      tooltipNumber('best', 'best so far'),
      {field: 'arch', type: 'nominal', title: 'arch'}
    ];
    return {
      width: CHART_WIDTH,
      height: CHART_HEIGHT,
      encoding: {x: x},
      layer: [
        {
          mark: {type: 'point', filled: true, size: 14, opacity: 0.28},
          encoding: {
            y: {field: 'fitness', type: 'quantitative', scale: {zero: false}, axis: axis(objective, ys)},
            color: color,
            tooltip: tooltip
          }
        },
        {
          mark: {type: 'line', interpolate: 'step-after', strokeWidth: 2.2},
          encoding: {
            y: {field: 'best', type: 'quantitative'},
            color: color,
            detail: {field: 'run', type: 'nominal'}
          }
        }
      ]
    };
  }

  function renderBest() {
    var result = bestSoFarRows();
    var rows = result.rows;
    var objective = objectiveTitle(selectedRuns());
    var evalRows = rows.map(function (r) {
      return Object.assign({x: r.index}, r);
    });
    var promises = [];
    promises.push(
      embedChart(document.getElementById('chart-best-evals'), evalRows, bestSpec(evalRows, 'x', 'evaluation (with a fitness)', objective), 'No evaluation with a fitness yet.')
    );
    var timed = rows.filter(function (r) {
      return r.elapsed !== null;
    });
    var maxTime = 0;
    timed.forEach(function (r) {
      maxTime = Math.max(maxTime, r.elapsed);
    });
    var unit = maxTime > 7200 ? ['h', 3600] : maxTime > 180 ? ['min', 60] : ['s', 1];
    var timeRows = timed.map(function (r) {
      return Object.assign({x: r.elapsed / unit[1]}, r);
    });
    promises.push(
      embedChart(document.getElementById('chart-best-time'), timeRows, bestSpec(timeRows, 'x', 'elapsed (' + unit[0] + ')', objective), 'No evaluation with a fitness yet.')
    );
    return promises;
  }

  // -- scatter and Pareto front

  // Marks the rows that no other row dominates (both objectives at least as good, one better).
  function markPareto(rows, xDir, yDir) {
    var sx = xDir === 'min' ? -1 : 1;
    var sy = yDir === 'min' ? -1 : 1;
    var order = rows.slice().sort(function (a, b) {
      return sx * b.x - sx * a.x || sy * b.y - sy * a.y;
    });
    var bestY = -Infinity;
    var bestX = null;
    order.forEach(function (row) {
      var gy = sy * row.y;
      var gx = sx * row.x;
      if (gy > bestY) {
        row.pareto = true;
        bestY = gy;
        bestX = gx;
      } else if (gy === bestY && gx === bestX) {
        row.pareto = true; // the same point twice: neither dominates the other
      } else {
        row.pareto = false;
      }
    });
    return rows.filter(function (r) {
      return r.pareto;
    }).length;
  }

  function renderScatter() {
    var pick = state.pick;
    var container = document.getElementById('chart-scatter');
    var note = document.getElementById('scatter-note');
    note.textContent = '';
    if (!pick.scatterX || !pick.scatterY) return [embedChart(container, [], {}, 'No metrics recorded yet.')];
    var rows = [];
    selectedEvaluations().forEach(function (e) {
      var x = metricValue(e, pick.scatterX);
      var y = metricValue(e, pick.scatterY);
      if (!isNum(x) || !isNum(y)) return;
      rows.push({run: e.run, seq: e.seq, x: x, y: y, arch: typeof e.arch === 'string' ? e.arch : '', pareto: false});
    });
    var front = markPareto(rows, pick.scatterXDir, pick.scatterYDir);
    if (rows.length) {
      note.textContent = front + ' of ' + rows.length + ' evaluations on the Pareto front (' + (pick.scatterXDir === 'min' ? 'minimising ' : 'maximising ') + pick.scatterX + ', ' + (pick.scatterYDir === 'min' ? 'minimising ' : 'maximising ') + pick.scatterY + ').';
    }
    var color = colorEncoding(rows);
    var x = {field: 'x', type: 'quantitative', scale: {zero: false}, axis: axis(pick.scatterX, rows.map(function (r) {
      return r.x;
    }))};
    var y = {field: 'y', type: 'quantitative', scale: {zero: false}, axis: axis(pick.scatterY, rows.map(function (r) {
      return r.y;
    }))};
    var tooltip = [
      {field: 'run', type: 'nominal', title: 'run'},
      {field: 'seq', type: 'quantitative', title: 'seq'},
      tooltipNumber('x', pick.scatterX),
      tooltipNumber('y', pick.scatterY),
      {field: 'arch', type: 'nominal', title: 'arch'}
    ];
    var spec = {
      width: CHART_WIDTH,
      height: CHART_HEIGHT + 40,
      title: {text: pick.scatterY + ' against ' + pick.scatterX, subtitle: 'Pareto front: outlined points joined by the line'},
      layer: [
        {
          mark: {type: 'point', filled: true, size: 22, opacity: 0.4},
          encoding: {x: x, y: y, color: color, tooltip: tooltip}
        },
        {
          transform: [{filter: 'datum.pareto'}],
          mark: {type: 'line', interpolate: pick.scatterXDir === 'min' ? 'step-after' : 'step-before', color: '#1f2328', strokeWidth: 1.4, opacity: 0.8},
          encoding: {x: x, y: y, order: {field: 'x', type: 'quantitative'}}
        },
        {
          transform: [{filter: 'datum.pareto'}],
          mark: {type: 'point', filled: true, size: 70, opacity: 1, stroke: '#1f2328', strokeWidth: 1.3},
          encoding: {x: x, y: y, color: color, tooltip: tooltip}
        }
      ]
    };
    return [embedChart(container, rows, spec, 'No evaluation has both ' + pick.scatterX + ' and ' + pick.scatterY + '.')];
  }

  // -- histogram

  function renderHistogram() {
    var metric = state.pick.histogram;
    var container = document.getElementById('chart-histogram');
    if (!metric) return [embedChart(container, [], {}, 'No metrics recorded yet.')];
    var rows = [];
    selectedEvaluations().forEach(function (e) {
      var v = metricValue(e, metric);
      if (isNum(v)) rows.push({run: e.run, value: v});
    });
    var spec = {
      width: CHART_WIDTH,
      height: CHART_HEIGHT,
      title: {text: metric, subtitle: rows.length + ' evaluations'},
      mark: {type: 'bar', opacity: 0.85, binSpacing: 1},
      encoding: {
        x: {field: 'value', type: 'quantitative', bin: {maxbins: 30}, axis: axis(metric, rows.map(function (r) {
          return r.value;
        }))},
        y: {aggregate: 'count', type: 'quantitative', title: 'evaluations'},
        color: colorEncoding(rows),
        tooltip: [
          {field: 'value', type: 'quantitative', bin: {maxbins: 30}, title: metric},
          {aggregate: 'count', type: 'quantitative', title: 'evaluations'}
        ]
      }
    };
    if (spec.encoding.color.field) spec.encoding.tooltip.unshift({field: 'run', type: 'nominal', title: 'run'});
    return [embedChart(container, rows, spec, 'No evaluation has a value for ' + metric + '.')];
  }

  // -- training-free correlations

  function renderProxies() {
    var body = document.getElementById('proxies-body');
    var chart = document.getElementById('chart-proxies');
    if (chart) finalizeView(chart);
    clear(body);
    var all = state.data.correlations;
    if (all.length === 0) {
      body.appendChild(el('p', {className: 'muted', text: 'No training-free scores or other metrics to correlate with the accuracy.'}));
      return [];
    }
    var runs = runsById();
    var shown = selectedRuns().filter(function (run) {
      return all.some(function (c) {
        return c.run === run.id;
      });
    });
    var metrics = proxyMetrics();

    // The table: one row per metric, one column per run.
    var table = el('table', {className: 'data-table proxies-table'});
    var headRow = el('tr', null, el('th', {text: 'metric', attrs: {scope: 'col'}}));
    shown.forEach(function (run) {
      var against = uniq(all.filter(function (c) {
        return c.run === run.id;
      }).map(function (c) {
        return c.against;
      })).join(', ');
      headRow.appendChild(
        el('th', {className: 'num', attrs: {scope: 'col'}}, el('span', {className: 'swatch', attrs: {style: 'background:' + runColor(run.id)}}), 'run ' + run.id + ' ', el('span', {className: 'muted', text: 'vs ' + against}))
      );
    });
    table.appendChild(el('thead', null, headRow));
    var tbody = el('tbody');
    metrics.forEach(function (metric) {
      var tr = el('tr', {className: metric === state.pick.proxy ? 'picked' : ''}, el('th', {className: 'mono', text: metric, attrs: {scope: 'row'}}));
      shown.forEach(function (run) {
        var c = all.find(function (item) {
          return item.run === run.id && item.metric === metric;
        });
        var td = el('td', {className: 'num'});
        if (c && isNum(c.spearman)) {
          var bar = el('span', {className: 'rho-bar ' + (c.spearman < 0 ? 'neg' : 'pos'), attrs: {style: 'width:' + Math.round(Math.abs(c.spearman) * 48) + 'px'}});
          td.appendChild(bar);
          td.appendChild(el('span', {className: 'rho', text: (c.spearman >= 0 ? '+' : '\u2212') + Math.abs(c.spearman).toFixed(3)}));
          if (isNum(c.n)) td.appendChild(el('span', {className: 'muted small', text: ' n=' + c.n}));
        } else {
          td.textContent = '\u2014';
        }
        tr.appendChild(td);
      });
      tr.addEventListener('click', function () {
        state.pick.proxy = metric;
        rerender(renderProxies);
      });
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);

    var select = el('select', {attrs: {id: 'proxy-metric', 'aria-label': 'training-free metric'}});
    metrics.forEach(function (metric) {
      var option = el('option', {text: metric, attrs: {value: metric}});
      if (metric === state.pick.proxy) option.selected = true;
      select.appendChild(option);
    });
    select.addEventListener('change', function () {
      state.pick.proxy = select.value;
      rerender(renderProxies);
    });

    var container = el('div', {className: 'chart', attrs: {id: 'chart-proxies', 'data-points': '0'}});
    var grid = el(
      'div',
      {className: 'grid'},
      el('div', {className: 'panel'}, el('div', {className: 'table-wrap'}, table), el('p', {className: 'hint', text: 'Click a row to plot it.'})),
      el('figure', {className: 'panel'}, el('figcaption', {text: 'Metric against the accuracy'}), el('div', {className: 'controls'}, el('label', null, 'metric ', select)), container)
    );
    body.appendChild(grid);

    var metric = state.pick.proxy;
    container.setAttribute('data-metric', metric);
    var rows = [];
    var titles = [];
    var againstNames = [];
    shown.forEach(function (run) {
      var c = all.find(function (item) {
        return item.run === run.id && item.metric === metric;
      });
      if (!c) return;
      againstNames.push(c.against);
      if (isNum(c.spearman)) titles.push({run: run.id, rho: c.spearman});
      selectedEvaluations().forEach(function (e) {
        if (e.run !== run.id) return;
        var x = metricValue(e, metric);
        var y = metricValue(e, c.against);
        if (!isNum(y) && c.against === (runs.get(run.id) || {}).objective) y = e.fitness;
        if (isNum(x) && isNum(y)) rows.push({run: e.run, seq: e.seq, x: x, y: y, arch: typeof e.arch === 'string' ? e.arch : ''});
      });
    });
    var against = uniq(againstNames).join(' / ') || 'accuracy';
    var rhoText = titles.length === 0 ? '\u03c1 unavailable' : titles.length === 1 ? '\u03c1 = ' + titles[0].rho.toFixed(3) : titles.map(function (t) {
      return 'run ' + t.run + ': \u03c1 = ' + t.rho.toFixed(3);
    }).join(', ');
    var spec = {
      width: CHART_WIDTH,
      height: CHART_HEIGHT + 40,
      title: {text: metric + ' against ' + against + ' (Spearman ' + rhoText + ')'},
      mark: {type: 'point', filled: true, size: 22, opacity: 0.5},
      encoding: {
        x: {field: 'x', type: 'quantitative', scale: {zero: false}, axis: axis(metric, rows.map(function (r) {
          return r.x;
        }))},
        y: {field: 'y', type: 'quantitative', scale: {zero: false}, axis: axis(against, rows.map(function (r) {
          return r.y;
        }))},
        color: colorEncoding(rows),
        tooltip: [
          {field: 'run', type: 'nominal', title: 'run'},
          {field: 'seq', type: 'quantitative', title: 'seq'},
          tooltipNumber('x', metric),
          tooltipNumber('y', against),
          {field: 'arch', type: 'nominal', title: 'arch'}
        ]
      }
    };
    return [embedChart(container, rows, spec, 'The selected runs have no evaluation with both ' + metric + ' and ' + against + '.')];
  }

  // -- curves

  function curveGroup(name) {
    var dot = name.indexOf('.');
    return dot < 0 ? name : name.slice(0, dot);
  }

  function curveRest(name) {
    var dot = name.indexOf('.');
    return dot < 0 ? name : name.slice(dot + 1);
  }

  // alpha.<tensor>.<edge>.<op>: the edge may itself hold dots, the op is the last part.
  function alphaParts(name) {
    var parts = name.split('.');
    if (parts.length >= 4) return {tensor: parts[1], edge: parts.slice(2, -1).join('.'), op: parts[parts.length - 1]};
    if (parts.length === 3) return {tensor: parts[1], edge: '', op: parts[2]};
    return {tensor: '', edge: '', op: parts.slice(1).join('.') || name};
  }

  function alphaSpec(points, stepTitle) {
    var rows = points.map(function (p) {
      var parts = alphaParts(p.curve);
      return {
        panel: parts.tensor + (parts.edge ? ' \u00b7 ' + parts.edge : ''),
        op: parts.op,
        step: p.step,
        value: p.value,
        label: typeof p.label === 'string' ? p.label : ''
      };
    });
    var panels = uniq(rows.map(function (r) {
      return r.panel;
    }));
    var steps = uniq(rows.map(function (r) {
      return r.step;
    }));
    var columns = Math.min(4, panels.length);
    var width = panels.length === 1 ? CHART_WIDTH - 120 : columns >= 4 ? 170 : columns === 3 ? 210 : 270;
    var inner = {
      width: width,
      height: panels.length === 1 ? CHART_HEIGHT - 40 : 120,
      mark: {type: 'line', point: steps.length <= 30, strokeWidth: 1.8},
      encoding: {
        x: {field: 'step', type: 'quantitative', axis: stepAxis(stepTitle, steps)},
        y: {field: 'value', type: 'quantitative', title: 'weight (softmax)'},
        color: {field: 'op', type: 'nominal', title: 'operation'},
        tooltip: [
          {field: 'panel', type: 'nominal', title: 'edge'},
          {field: 'op', type: 'nominal', title: 'operation'},
          tooltipNumber('step', stepTitle),
          tooltipNumber('value', 'weight'),
          {field: 'label', type: 'nominal', title: 'label'}
        ]
      }
    };
    if (panels.length === 1) {
      inner.title = {text: panels[0] ? 'edge ' + panels[0] : 'architecture weights'};
      return {rows: rows, spec: inner};
    }
    return {
      rows: rows,
      spec: {
        columns: columns,
        facet: {field: 'panel', type: 'nominal', title: null, sort: panels, header: {labelFontWeight: 600}},
        spec: inner,
        resolve: {scale: {y: 'shared'}}
      }
    };
  }

  function seriesSpec(points, group, stepTitle) {
    var rows = points.map(function (p) {
      return {name: curveRest(p.curve), step: p.step, value: p.value, label: typeof p.label === 'string' ? p.label : ''};
    });
    var names = uniq(rows.map(function (r) {
      return r.name;
    }));
    var steps = uniq(rows.map(function (r) {
      return r.step;
    }));
    var single = names.length === 1;
    var columns = Math.min(3, names.length);
    var inner = {
      width: single ? CHART_WIDTH : columns === 2 ? 280 : 200,
      height: single ? CHART_HEIGHT - 40 : 130,
      mark: {type: 'line', point: steps.length <= 40, strokeWidth: 1.8, color: '#4c78a8'},
      encoding: {
        x: {field: 'step', type: 'quantitative', axis: stepAxis(stepTitle, steps)},
        y: {field: 'value', type: 'quantitative', title: single ? names[0] : null, scale: {zero: false}, axis: axisFormat(rows.map(function (r) {
          return r.value;
        })) ? {format: '~s'} : {}},
        tooltip: [
          {field: 'name', type: 'nominal', title: 'curve'},
          tooltipNumber('step', stepTitle),
          tooltipNumber('value', 'value'),
          {field: 'label', type: 'nominal', title: 'label'}
        ]
      }
    };
    if (single) {
      inner.title = {text: group + '.' + names[0]};
      return {rows: rows, spec: inner};
    }
    return {
      rows: rows,
      spec: {
        columns: columns,
        facet: {field: 'name', type: 'nominal', title: null, sort: names, header: {labelFontWeight: 600}},
        spec: inner,
        resolve: {scale: {x: 'independent', y: 'independent'}, axis: {x: 'independent', y: 'independent'}}
      }
    };
  }

  // A group whose curves hold one point each (a predictor's held-out quality): the values are on
  // unrelated scales, so they are listed, one row per curve, rather than plotted against each other.
  function valuesSpec(points) {
    var rows = points.map(function (p) {
      return {name: curveRest(p.curve), step: p.step, value: p.value, label: typeof p.label === 'string' ? p.label : ''};
    });
    var names = uniq(rows.map(function (r) {
      return r.name;
    }));
    return {
      rows: rows,
      spec: {
        width: 240,
        height: {step: 22},
        transform: [{calculate: "isValid(datum.value) && isFinite(datum.value) ? format(datum.value, '.5~g') : 'not a number'", as: 'shown'}],
        mark: {type: 'text', align: 'left', baseline: 'middle', fontSize: 12, fontWeight: 600, x: 8},
        encoding: {
          y: {field: 'name', type: 'nominal', sort: names, title: null, axis: {domain: false, ticks: false, labelFontSize: 12, labelPadding: 8}},
          text: {field: 'shown', type: 'nominal'},
          tooltip: [
            {field: 'name', type: 'nominal', title: 'curve'},
            tooltipNumber('step', 'step'),
            tooltipNumber('value', 'value'),
            {field: 'label', type: 'nominal', title: 'label'}
          ]
        },
        config: {view: {stroke: null}}
      }
    };
  }

  // The labels of a group's points: one row per step and label, with the curves that carry it.
  function labelsTable(points) {
    var curves = uniq(points.map(function (p) {
      return p.curve;
    }));
    var entries = new Map();
    points.forEach(function (p) {
      if (typeof p.label !== 'string' || p.label === '') return;
      var key = p.step + '\u0000' + p.label;
      if (!entries.has(key)) entries.set(key, {step: p.step, label: p.label, curves: new Set()});
      entries.get(key).curves.add(p.curve);
    });
    if (entries.size === 0) return null;
    var list = Array.from(entries.values()).sort(function (a, b) {
      return a.step - b.step;
    });
    var partial = list.some(function (entry) {
      return entry.curves.size < curves.length;
    });
    var table = el('table', {className: 'data-table labels-table'});
    var head = el('tr', null, el('th', {className: 'num', text: 'step', attrs: {scope: 'col'}}), el('th', {text: 'label', attrs: {scope: 'col'}}));
    if (partial) head.appendChild(el('th', {text: 'curves', attrs: {scope: 'col'}}));
    table.appendChild(el('thead', null, head));
    var tbody = el('tbody');
    list.forEach(function (entry) {
      var tr = el('tr', null, el('td', {className: 'num', text: fmt(entry.step)}), el('td', {className: 'mono wrap', text: entry.label}));
      if (partial) {
        var names = Array.from(entry.curves).map(curveRest);
        var text = entry.curves.size === curves.length ? 'all' : names.slice(0, 4).join(', ') + (names.length > 4 ? ', \u2026 (' + names.length + ')' : '');
        tr.appendChild(el('td', {className: 'mono small', text: text}));
      }
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    return el('details', {className: 'labels', attrs: {open: ''}}, el('summary', {text: 'Labels (' + list.length + ')'}), el('div', {className: 'labels-wrap'}, table));
  }

  function renderCurves() {
    var body = document.getElementById('curves-body');
    body.querySelectorAll('.chart').forEach(finalizeView);
    clear(body);
    var promises = [];
    var byRun = new Map();
    state.data.curves.forEach(function (p) {
      if (!state.selected.has(p.run) || typeof p.curve !== 'string') return;
      if (!byRun.has(p.run)) byRun.set(p.run, []);
      byRun.get(p.run).push(p);
    });
    var runs = selectedRuns().filter(function (run) {
      return byRun.has(run.id);
    });
    if (runs.length === 0) {
      body.appendChild(el('p', {className: 'muted', text: state.data.curves.length ? 'The selected runs recorded no curves.' : 'No curves recorded (supernet training, architecture weights and predictor quality appear here).'}));
      return promises;
    }
    runs.forEach(function (run) {
      var points = byRun.get(run.id);
      var groups = new Map();
      points.forEach(function (p) {
        var g = curveGroup(p.curve);
        if (!groups.has(g)) groups.set(g, []);
        groups.get(g).push(p);
      });
      var names = Array.from(groups.keys()).sort();
      body.appendChild(el('h3', {className: 'run-heading'}, el('span', {className: 'swatch', attrs: {style: 'background:' + runColor(run.id)}}), 'Run ' + run.id + ' ', el('span', {className: 'muted', text: [run.method, run.space].filter(Boolean).join(' \u00b7 ')})));
      var grid = el('div', {className: 'grid'});
      body.appendChild(grid);
      names.forEach(function (group) {
        var groupPoints = groups.get(group).slice().sort(function (a, b) {
          return a.curve < b.curve ? -1 : a.curve > b.curve ? 1 : a.step - b.step;
        });
        // Every point goes to the chart (data-points counts the stored rows); Vega-Lite leaves out
        // the ones without a finite value when it draws lines.
        var finite = groupPoints.filter(function (p) {
          return isNum(p.value) && isNum(p.step);
        });
        var stepTitle = group === 'alpha' || group === 'supernet' || group.indexOf('final') === 0 ? 'epoch' : 'step';
        var counts = new Map();
        groupPoints.forEach(function (p) {
          counts.set(p.curve, (counts.get(p.curve) || 0) + 1);
        });
        var singles = counts.size > 1 && Array.from(counts.values()).every(function (n) {
          return n === 1;
        });
        var built = group === 'alpha' ? alphaSpec(groupPoints, stepTitle) : singles ? valuesSpec(groupPoints) : seriesSpec(groupPoints, group, stepTitle);
        var container = el('div', {className: 'chart', attrs: {id: 'chart-curves-' + run.id + '-' + group.replace(/\s+/g, '_'), 'data-points': '0'}});
        var curveCount = uniq(groupPoints.map(function (p) {
          return p.curve;
        })).length;
        var wide = built.spec.facet !== undefined;
        var panel = el(
          'figure',
          {className: 'panel' + (wide ? ' wide' : '')},
          el('figcaption', null, group + ' ', el('span', {className: 'muted', text: curveCount + (curveCount === 1 ? ' curve, ' : ' curves, ') + groupPoints.length + ' points'})),
          container
        );
        var labels = labelsTable(groupPoints);
        if (labels) panel.appendChild(labels);
        grid.appendChild(panel);
        promises.push(embedChart(container, built.rows, built.spec, 'No points in these curves.'));
        if (finite.length === 0) panel.appendChild(el('p', {className: 'chart-note', text: 'None of these points has a finite value.'}));
      });
      var derived = derivedCells(run);
      if (derived) body.appendChild(derived);
    });
    return promises;
  }

  // The cell a differentiable search derives at each epoch end (its `epoch` evaluations).
  function derivedCells(run) {
    var epochs = state.data.evaluations.filter(function (e) {
      return e.run === run.id && e.stage === 'epoch';
    });
    if (epochs.length === 0) return null;
    var objective = run.objective || 'val_acc';
    var table = el('table', {className: 'data-table labels-table'});
    table.appendChild(el('thead', null, el('tr', null, el('th', {className: 'num', text: 'epoch', attrs: {scope: 'col'}}), el('th', {className: 'num', text: objective, attrs: {scope: 'col'}}), el('th', {text: 'derived cell', attrs: {scope: 'col'}}))));
    var tbody = el('tbody');
    epochs.forEach(function (e) {
      var epoch = metricValue(e, 'epoch');
      tbody.appendChild(el('tr', null, el('td', {className: 'num', text: fmt(epoch === null ? e.seq + 1 : epoch)}), el('td', {className: 'num', text: fmt(metricValue(e, objective))}), el('td', {className: 'mono wrap', text: e.arch})));
    });
    table.appendChild(tbody);
    return el('details', {className: 'labels derived-cells', attrs: {open: '', id: 'derived-cells-' + run.id}}, el('summary', {text: 'Derived cell per epoch (' + epochs.length + ')'}), el('div', {className: 'labels-wrap'}, table));
  }

  // -- top candidates

  function renderTop() {
    var body = document.getElementById('top-body');
    clear(body);
    var runs = runsById();
    var list = state.data.top.filter(function (c) {
      return state.selected.has(c.run);
    });
    if (list.length === 0) {
      body.appendChild(el('p', {className: 'muted', text: state.data.top.length ? 'The selected runs have no candidates.' : 'No candidates yet.'}));
      return [];
    }
    list.forEach(function (c) {
      var run = runs.get(c.run) || {};
      var objective = run.objective || 'fitness';
      var card = el('article', {className: 'candidate', attrs: {'data-run': c.run, 'data-rank': c.rank, 'data-seq': c.seq}});
      card.appendChild(
        el(
          'header',
          {className: 'candidate-head'},
          el('span', {className: 'rank', text: '#' + c.rank}),
          el('span', {className: 'candidate-run'}, el('span', {className: 'swatch', attrs: {style: 'background:' + runColor(c.run)}}), 'run ' + c.run),
          el('span', {className: 'muted', text: 'seq ' + c.seq + (c.stage ? ' \u00b7 ' + c.stage : '')}),
          el('span', {className: 'fitness', title: objective}, el('span', {className: 'muted small', text: objective + ' '}), fmt(c.fitness))
        )
      );
      var drawing = el('div', {className: 'drawing'});
      if (typeof c.svg === 'string' && c.svg.trim() !== '') {
        drawing.innerHTML = c.svg; // trusted: laid out by Graphviz on nascent's side
      } else {
        drawing.classList.add('no-drawing');
        drawing.appendChild(el('p', {text: c.drawing || 'no drawing'}));
      }
      card.appendChild(drawing);
      if (typeof c.svg === 'string' && c.svg.trim() !== '' && c.drawing) card.appendChild(el('p', {className: 'drawing-caption', text: c.drawing}));
      card.appendChild(el('pre', {className: 'arch', text: typeof c.arch === 'string' ? c.arch : ''}));
      var metrics = c.metrics || {};
      var names = Object.keys(metrics).sort();
      if (names.length) {
        var table = el('table', {className: 'metrics-table'});
        names.forEach(function (name) {
          table.appendChild(el('tr', null, el('th', {className: 'mono', text: name, attrs: {scope: 'row'}}), el('td', {className: 'num', text: fmt(metrics[name]), title: metrics[name] === null ? 'not a number' : String(metrics[name])})));
        });
        card.appendChild(el('div', {className: 'metrics-wrap'}, table));
      }
      var children = asArray(c.children);
      if ((c.parent !== null && c.parent !== undefined) || children.length) {
        var lineage = el('p', {className: 'lineage'}, el('span', {className: 'muted', text: 'lineage '}));
        if (c.parent !== null && c.parent !== undefined) lineage.appendChild(el('span', {text: 'parent seq ' + c.parent}));
        if (children.length) {
          if (c.parent !== null && c.parent !== undefined) lineage.appendChild(document.createTextNode(' \u00b7 '));
          lineage.appendChild(el('span', {text: (children.length === 1 ? 'child seq ' : 'children seq ') + children.join(', ')}));
        }
        card.appendChild(lineage);
      }
      body.appendChild(card);
    });
    return [];
  }

  // -- header and runs table

  function renderHeader() {
    var data = state.data;
    var title = data.title || 'results';
    document.title = 'nascent report \u2014 ' + title;
    document.getElementById('report-title').textContent = title;
    var generated = document.getElementById('generated-at');
    generated.textContent = data.generated_at ? formatDate(data.generated_at) : '\u2014';
    generated.setAttribute('datetime', data.generated_at || '');
    generated.title = data.generated_at || '';
    var count = document.getElementById('evaluation-count');
    count.textContent = data.evaluations.length + (data.evaluations.length === 1 ? ' evaluation' : ' evaluations');
    count.setAttribute('data-count', String(data.evaluations.length));
    document.getElementById('run-count').textContent = data.runs.length + (data.runs.length === 1 ? ' run' : ' runs');
    document.getElementById('empty-message').hidden = data.runs.length !== 0;
  }

  // Local time, compact: 2026-12-01 03:30:00.
  function formatDate(text) {
    var date = new Date(text);
    if (isNaN(date.getTime())) return text;
    function two(n) {
      return (n < 10 ? '0' : '') + n;
    }
    return date.getFullYear() + '-' + two(date.getMonth() + 1) + '-' + two(date.getDate()) + ' ' + clock(date);
  }

  function renderRuns() {
    var body = document.getElementById('runs-body');
    clear(body);
    var runs = state.data.runs;
    if (runs.length === 0) {
      body.appendChild(el('tr', null, el('td', {className: 'muted', text: 'No runs.', attrs: {colspan: 15}})));
      return;
    }
    runs.forEach(function (run) {
      var box = el('input', {attrs: {type: 'checkbox', 'aria-label': 'show run ' + run.id, 'data-run': run.id}});
      box.checked = state.selected.has(run.id);
      box.addEventListener('change', function () {
        if (box.checked) state.selected.add(run.id);
        else state.selected.delete(run.id);
        tr.classList.toggle('deselected', !box.checked);
        renderCharts();
      });
      var status = String(run.status || '');
      var config = typeof run.config === 'string' ? run.config : '';
      var tr = el(
        'tr',
        {className: state.selected.has(run.id) ? '' : 'deselected'},
        el('td', {className: 'col-check'}, box),
        el('td', {className: 'num run-id'}, el('span', {className: 'swatch', attrs: {style: 'background:' + runColor(run.id)}}), String(run.id)),
        el('td', {text: run.method || ''}),
        el('td', {text: run.space || ''}),
        el('td', {text: run.evaluator || ''}),
        el('td', null, el('span', {className: 'status status-' + status.replace(/[^a-z0-9_-]/gi, '_').toLowerCase(), text: status})),
        el('td', {className: 'num', text: run.seed === undefined || run.seed === null ? '' : String(run.seed)}),
        el('td', {text: (run.objective || '') + (run.maximize === false ? ' (min)' : ' (max)')}),
        el('td', {text: run.final_stage || ''}),
        el('td', {className: 'num', text: isNum(run.evaluations) ? String(run.evaluations) : ''}),
        el('td', {className: 'num strong', text: fmt(run.best)}),
        el('td', null, el('code', {className: 'arch-inline', text: run.best_arch || ''})),
        el('td', {className: 'num nowrap', text: fmtSeconds(run.seconds)}),
        el('td', {className: 'nowrap', text: run.started_at ? formatDate(run.started_at) : '', title: run.started_at || ''}),
        el('td', null, config ? el('details', {className: 'config'}, el('summary', {text: 'show'}), el('pre', {text: config})) : el('span', {className: 'muted', text: '\u2014'}))
      );
      body.appendChild(tr);
    });
  }

  // ---------------------------------------------------------------- pickers

  function fillSelect(select, values, current) {
    clear(select);
    values.forEach(function (value) {
      var option = el('option', {text: value, attrs: {value: value}});
      if (value === current) option.selected = true;
      select.appendChild(option);
    });
    select.disabled = values.length === 0;
  }

  function syncPickers() {
    var metrics = state.data.metrics;
    var pick = state.pick;
    fillSelect(document.getElementById('scatter-x'), metrics, pick.scatterX);
    fillSelect(document.getElementById('scatter-y'), metrics, pick.scatterY);
    fillSelect(document.getElementById('histogram-metric'), metrics, pick.histogram);
    var xDir = document.getElementById('scatter-x-dir');
    var yDir = document.getElementById('scatter-y-dir');
    xDir.value = pick.scatterXDir || 'max';
    yDir.value = pick.scatterYDir || 'max';
    xDir.disabled = yDir.disabled = metrics.length === 0;
  }

  function wirePickers() {
    var x = document.getElementById('scatter-x');
    var y = document.getElementById('scatter-y');
    var xDir = document.getElementById('scatter-x-dir');
    var yDir = document.getElementById('scatter-y-dir');
    x.addEventListener('change', function () {
      state.pick.scatterX = x.value;
      state.pick.scatterXDir = directionOf(x.value);
      xDir.value = state.pick.scatterXDir;
      rerender(renderScatter);
    });
    y.addEventListener('change', function () {
      state.pick.scatterY = y.value;
      state.pick.scatterYDir = directionOf(y.value);
      yDir.value = state.pick.scatterYDir;
      rerender(renderScatter);
    });
    xDir.addEventListener('change', function () {
      state.pick.scatterXDir = xDir.value;
      rerender(renderScatter);
    });
    yDir.addEventListener('change', function () {
      state.pick.scatterYDir = yDir.value;
      rerender(renderScatter);
    });
    var histogram = document.getElementById('histogram-metric');
    histogram.addEventListener('change', function () {
      state.pick.histogram = histogram.value;
      rerender(renderHistogram);
    });
    function setAll(on) {
      state.data.runs.forEach(function (run) {
        if (on) state.selected.add(run.id);
        else state.selected.delete(run.id);
      });
      renderRuns();
      renderCharts();
    }
    document.getElementById('runs-all').addEventListener('click', function () {
      setAll(true);
    });
    document.getElementById('runs-none').addEventListener('click', function () {
      setAll(false);
    });
  }

  // ---------------------------------------------------------------- render passes

  function rerender(section) {
    beginWork();
    try {
      section();
    } catch (error) {
      reportError(describe(error));
    }
    endWork();
  }

  // Everything that follows the run selection.
  function renderCharts() {
    beginWork();
    [renderBest, renderScatter, renderHistogram, renderProxies, renderCurves, renderTop].forEach(function (section) {
      try {
        section();
      } catch (error) {
        reportError(describe(error));
      }
    });
    endWork();
  }

  function renderAll() {
    beginWork();
    try {
      renderHeader();
      syncPickers();
      renderRuns();
    } catch (error) {
      reportError(describe(error));
    }
    renderCharts();
    endWork();
  }

  // ---------------------------------------------------------------- live mode

  function startPolling(url, pollMs) {
    var indicator = document.getElementById('live-indicator');
    var status = document.getElementById('live-status');
    indicator.hidden = false;
    var delay = Math.max(250, pollMs);
    function show(text, offline) {
      status.textContent = text;
      indicator.classList.toggle('offline', !!offline);
    }
    show('live \u00b7 updated ' + clock(state.lastChange || new Date()));
    function tick() {
      fetch(url, {cache: 'no-store'})
        .then(function (response) {
          if (!response.ok) throw new Error('HTTP ' + response.status);
          return response.json();
        })
        .then(function (raw) {
          var next = normalise(raw);
          var current = state.data;
          var changed = next.evaluations.length !== current.evaluations.length || next.curves.length !== current.curves.length;
          if (changed) {
            setData(next);
            renderAll();
          }
          show('live \u00b7 updated ' + clock(state.lastChange || new Date()) + ' \u00b7 checked ' + clock(new Date()));
        })
        .catch(function (error) {
          // The server going away (the run ended, serve stopped) is not a page error.
          show('live \u00b7 no answer at ' + clock(new Date()) + ' (' + (error && error.message ? error.message : String(error)) + ')', true);
        })
        .then(function () {
          setTimeout(tick, delay);
        });
    }
    setTimeout(tick, delay);
  }

  // ---------------------------------------------------------------- start

  function readData() {
    var node = document.getElementById('nascent-data');
    if (!node) {
      reportError('the page holds no data (#nascent-data is missing)');
      return {};
    }
    try {
      return JSON.parse(node.textContent || '{}');
    } catch (error) {
      reportError('could not read the report data: ' + describe(error));
      return {};
    }
  }

  function main() {
    beginWork();
    try {
      setData(normalise(readData()));
      wirePickers();
      renderAll();
      if (state.data.live && state.data.data_url) {
        if (typeof fetch === 'function') startPolling(state.data.data_url, state.data.poll_ms);
        else reportError('live mode needs fetch, which this browser lacks');
      }
    } catch (error) {
      reportError(describe(error));
    }
    endWork();
  }

  main();
})();
