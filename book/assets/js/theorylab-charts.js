// theorylab: every Altair chart fits its column, from a phone (400 px) to a wide screen.
//
// Loaded after vega-embed.min.js, this wraps the global `vegaEmbed` that the chapters' chart
// outputs call. Before a chart is drawn its Vega-Lite spec is adapted to the width of its column:
//   - a single view (one mark, or layers) takes the column's width ("container");
//   - side-by-side panels are stacked when they do not fit, and each panel is given the width left;
//   - on a narrow column the legend goes under the plot; at any width a title longer than the column wraps;
//   - numbers in tooltips are rounded (4 significant digits) unless the chart set a format.
// After drawing, a chart still wider than its column is drawn again with narrower panels, and
// a resized column redraws its charts. The chart's data and marks are never changed.
(function () {
  "use strict";
  var embed = window.vegaEmbed;
  if (typeof embed !== "function") return;
  var NARROW = 560;      // below this column width: legends under the plot, titles wrapped
  var AXIS = 72;         // room for a y axis with its labels and title
  var LEGEND = 170;      // room for a legend on the right
  var GAP = 24;          // space between panels side by side
  var MIN_PANEL = 140;

  function clone(x) { return JSON.parse(JSON.stringify(x)); }
  function isView(s) { return !!s && (s.mark !== undefined || Array.isArray(s.layer)) && !s.facet && !s.repeat; }
  function viewWidth(s, config) {
    if (typeof s.width === "number") return s.width;
    var v = (config && config.view) || {};
    return v.continuousWidth || v.width || 300;
  }

  function roundTooltips(node) {
    if (Array.isArray(node)) { node.forEach(roundTooltips); return; }
    if (!node || typeof node !== "object") return;
    var enc = node.encoding;
    if (enc && enc.tooltip) {
      var tips = Array.isArray(enc.tooltip) ? enc.tooltip : [enc.tooltip];
      tips.forEach(function (t) {
        if (t && typeof t === "object" && t.type === "quantitative" && !t.format && !t.timeUnit && !t.aggregate) {
          t.format = ".4~g";
        }
      });
    }
    Object.keys(node).forEach(function (k) { if (k !== "data" && k !== "datasets") roundTooltips(node[k]); });
  }

  function wrap(text, px, charPx) {
    if (Array.isArray(text)) text = text.join(" ");
    if (typeof text !== "string") return text;
    var per = Math.max(12, Math.floor(px / charPx)), lines = [], line = "";
    text.split(/\s+/).forEach(function (word) {
      if (line && (line + " " + word).length > per) { lines.push(line); line = word; }
      else { line = line ? line + " " + word : word; }
    });
    if (line) lines.push(line);
    return lines.length > 1 ? lines : text;
  }

  // Marks placed at a pixel position (mark.x = 430) move with the plot's new width.
  function scalePixels(node, ratio) {
    if (!node || ratio === 1) return;
    (node.layer || [node]).forEach(function (l) {
      if (l.layer) { scalePixels(l, ratio); return; }
      var m = l.mark;
      if (m && typeof m === "object") ["x", "x2"].forEach(function (k) { if (typeof m[k] === "number") m[k] *= ratio; });
      var e = l.encoding || {};
      ["x", "x2"].forEach(function (k) { if (e[k] && typeof e[k].value === "number") e[k].value *= ratio; });
    });
  }

  function wrapTitles(node, avail) {
    if (Array.isArray(node)) { node.forEach(function (n) { wrapTitles(n, avail); }); return; }
    if (!node || typeof node !== "object") return;
    if (node.title !== undefined && (node.mark !== undefined || node.layer || node.hconcat || node.vconcat || node.concat)) {
      if (typeof node.title === "string" || Array.isArray(node.title)) node.title = wrap(node.title, avail, 8.5);
      else if (node.title && typeof node.title === "object") {
        node.title.text = wrap(node.title.text, avail, 8.5);
        if (node.title.subtitle) node.title.subtitle = wrap(node.title.subtitle, avail, 6.8);
      }
    }
    ["layer", "hconcat", "vconcat", "concat"].forEach(function (k) { if (node[k]) wrapTitles(node[k], avail); });
  }

  // Give every view under `node` a plot width that leaves room for axes (and a legend on the right).
  function sizePanels(node, avail, config, legendRight, shrink) {
    if (isView(node)) {
      var room = avail - AXIS - (legendRight ? LEGEND : 0);
      var w = viewWidth(node, config);
      node.width = Math.max(MIN_PANEL, Math.min(w, room) - shrink);
      scalePixels(node, node.width / w);
      if (Array.isArray(node.layer)) node.layer.forEach(function (l) { delete l.width; });
      return;
    }
    if (node.hconcat) {
      var n = node.hconcat.length;
      var need = node.hconcat.reduce(function (s, c) { return s + (isView(c) ? viewWidth(c, config) + AXIS : avail); }, 0);
      need += GAP * (n - 1) + (legendRight ? LEGEND : 0);
      if (need > avail) { node.vconcat = node.hconcat; delete node.hconcat; }
      else {
        node.hconcat.forEach(function (c) { sizePanels(c, (avail - GAP * (n - 1)) / n + AXIS, config, false, shrink / n); });
        return;
      }
    }
    if (node.concat) node.columns = 1;
    (node.vconcat || node.concat || []).forEach(function (c) { sizePanels(c, avail, config, legendRight, shrink); });
  }

  function adapt(original, avail, shrink) {
    var spec = clone(original);
    var narrow = avail < NARROW;
    spec.config = spec.config || {};
    roundTooltips(spec);
    if (narrow || shrink) {  // long axis labels are cut (with an ellipsis; the tooltip has them whole)
      spec.config.axis = Object.assign({}, spec.config.axis, {labelLimit: narrow ? 90 : 160});
    }
    if (narrow) {
      spec.config.legend = Object.assign({}, spec.config.legend, {orient: "bottom", direction: "vertical",
                                                                  labelLimit: Math.max(100, avail - AXIS - 60 - (shrink || 0))});
    }
    wrapTitles(spec, avail - 16);  // a title longer than the column would widen the chart at any width
    if (isView(spec) && !shrink) {
      var w0 = viewWidth(spec, spec.config);
      spec.width = "container";
      spec.autosize = {type: "fit-x", contains: "padding"};
      scalePixels(spec, Math.min(1, (avail - AXIS) / w0));
      if (Array.isArray(spec.layer)) spec.layer.forEach(function (l) { delete l.width; });
    } else {
      var legendRight = !narrow && (spec.config.legend || {}).orient !== "bottom";
      sizePanels(spec, avail, spec.config, legendRight, shrink || 0);
    }
    return spec;
  }

  function columnWidth(el) {
    var node = el.parentElement || el;
    while (node && node.clientWidth === 0) node = node.parentElement;
    var w = node ? node.clientWidth : window.innerWidth;
    var cs = node ? window.getComputedStyle(node) : null;
    if (cs) w -= (parseFloat(cs.paddingLeft) || 0) + (parseFloat(cs.paddingRight) || 0);
    return Math.max(200, Math.floor(w));
  }

  function drawnWidth(el) {
    var svg = el.querySelector("svg.marks");
    if (svg) return parseFloat(svg.getAttribute("width")) || svg.getBoundingClientRect().width;
    var canvas = el.querySelector("canvas.marks");
    return canvas ? canvas.getBoundingClientRect().width : 0;
  }

  function fitted(el, spec, opts) {
    if (typeof el === "string") el = document.querySelector(el);
    opts = Object.assign({renderer: "svg"}, opts || {});
    if (!el || !spec || (spec.$schema && spec.$schema.indexOf("vega-lite") < 0 && opts.mode !== "vega-lite")) {
      return embed(el, spec, opts);
    }
    var state = {result: null, width: 0};
    function draw(shrink, tries) {
      var avail = columnWidth(el) - (opts.actions === false ? 0 : 40);
      state.width = columnWidth(el);
      if (state.result) state.result.finalize();
      var adapted = adapt(spec, avail, shrink);
      el.theorylabSpec = adapted;  // what was drawn (for tests and debugging)
      return embed(el, adapted, opts).then(function (result) {
        state.result = result;
        var over = drawnWidth(el) - avail;
        if (over > 1 && tries > 0) return draw((shrink || 0) + over + 4, tries - 1);
        return result;
      });
    }
    var first = draw(0, 3);
    if (typeof ResizeObserver === "function" && el.parentElement) {
      var timer = null;
      new ResizeObserver(function () {
        if (Math.abs(columnWidth(el) - state.width) < 16) return;
        clearTimeout(timer);
        timer = setTimeout(function () { draw(0, 3); }, 150);
      }).observe(el.parentElement);
    }
    return first;
  }

  Object.keys(embed).forEach(function (k) { fitted[k] = embed[k]; });
  window.vegaEmbed = fitted;
  window.theorylabCharts = {adapt: adapt};
})();
