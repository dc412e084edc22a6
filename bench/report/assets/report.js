/* blip2-bench report: the sample browser of a run page or a compare page.
 *
 * The rows live in script files (data/<slug>/chunk-NNNN.js, 1000 rows each) that call window.__reportChunk;
 * a page adds the <script> of a chunk when it shows one of its rows, because a file:// page cannot fetch().
 * Filtering by score, answer type or domain reads only data/<slug>/facets.js (one small integer per row and
 * filter); a text search loads every chunk once. Every text from a run is put in the page with textContent,
 * never as HTML.
 */
"use strict";
(function () {
  var chunks = new Map();
  var loading = new Map();
  var facetCodes = new Map();

  window.__reportChunk = function (slug, index, rows) { chunks.set(slug + "/" + index, rows); };
  window.__reportFacets = function (slug, codes) { facetCodes.set(slug, codes); };

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = function () { resolve(); };
      script.onerror = function () { reject(new Error("cannot load " + src)); };
      document.head.appendChild(script);
    });
  }

  function getChunk(b, index) {
    var key = b.slug + "/" + index;
    if (chunks.has(key)) { return Promise.resolve(chunks.get(key)); }
    if (!loading.has(key)) {
      var src = b.base + "/chunk-" + String(index).padStart(4, "0") + ".js";
      loading.set(key, loadScript(src).then(function () { return chunks.get(key); }));
    }
    return loading.get(key);
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function image(b, path, label) {
    var img = document.createElement("img");
    img.src = b.root + path;
    img.alt = label || "";
    return img;
  }

  function value(b, type, v) {
    var list;
    if (type === "list") {
      list = el("ul", "refs");
      v.forEach(function (text) { list.appendChild(el("li", null, text)); });
      return list;
    }
    if (type === "counts") {
      list = el("ul", "counts");
      v.forEach(function (pair) {
        var li = el("li", null, pair[0]);
        li.appendChild(el("b", null, "×" + pair[1]));
        list.appendChild(li);
      });
      return list;
    }
    if (type === "ranked") {
      list = el("ol", "ranked");
      v.forEach(function (item) {
        var li = el("li", item[2] ? "true" : null);
        if (item[1]) { li.appendChild(image(b, item[1], item[0])); }
        li.appendChild(el("span", "text", item[0]));
        if (item[2]) { li.appendChild(el("span", "mark", "✓")); }
        if (item[3] !== undefined) { li.appendChild(el("span", "sim", item[3])); }
        list.appendChild(li);
      });
      return list;
    }
    return el("span", "text", v);
  }

  function fields(b, columns, row) {
    var dl = el("dl");
    columns.forEach(function (column) {
      var v = row[column.key];
      if (v === undefined || v === null || (Array.isArray(v) && !v.length && column.type !== "list")) { return; }
      dl.appendChild(el("dt", null, column.label));
      var dd = el("dd", "c-" + column.key);
      dd.appendChild(value(b, column.type, v));
      dl.appendChild(dd);
    });
    return dl;
  }

  function card(b, row) {
    var article = el("article", "card" + (row.sc ? " sc-" + row.sc : ""));
    var thumb = el("div", "thumb");
    if (row.th) { thumb.appendChild(image(b, row.th, row.id)); } else { thumb.appendChild(el("span", "noimg", "no image")); }
    if (row.thl) { thumb.appendChild(el("span", "thl", row.thl)); }
    article.appendChild(thumb);
    var body = el("div", "body");
    var head = el("div", "head");
    head.appendChild(el("span", "sid", row.id));
    if (row.s) { head.appendChild(el("span", "score " + (row.sc || ""), row.s)); }
    if (row.tag) { head.appendChild(el("span", "tag", row.tag)); }
    body.appendChild(head);
    body.appendChild(fields(b, b.manifest.columns, row));
    if (b.manifest.sides.length) {
      var sides = el("div", "sides");
      ["A", "B"].forEach(function (key, i) {
        var side = row[key] || {};
        var box = el("div", "side side-" + key.toLowerCase());
        var sideHead = el("div", "head");
        sideHead.appendChild(el("span", "side-name", b.manifest.sides[i]));
        if (side.s) { sideHead.appendChild(el("span", "score " + (side.sc || ""), side.s)); }
        box.appendChild(sideHead);
        box.appendChild(fields(b, b.manifest.sideColumns, side));
        sides.appendChild(box);
      });
      body.appendChild(sides);
    }
    article.appendChild(body);
    return article;
  }

  function haystack(row) {
    if (row.__text === undefined) {
      var parts = [];
      (function walk(v, key) {
        if (key === "th" || key === "sc") { return; }
        if (typeof v === "string") { parts.push(v); } else if (typeof v === "number") { parts.push(String(v)); }
        else if (Array.isArray(v)) { v.forEach(function (x) { walk(x, null); }); }
        else if (v && typeof v === "object") { Object.keys(v).forEach(function (k) { walk(v[k], k); }); }
      })(row, null);
      Object.defineProperty(row, "__text", { value: parts.join("\n").toLowerCase() });
    }
    return row.__text;
  }

  function byFacets(b) {
    var active = Object.keys(b.filters).filter(function (key) { return b.filters[key] >= 0; });
    if (!active.length) { return null; }
    var out = [];
    for (var i = 0; i < b.rows; i++) {
      var keep = true;
      for (var j = 0; j < active.length; j++) {
        if (b.codes[active[j]][i] !== b.filters[active[j]]) { keep = false; break; }
      }
      if (keep) { out.push(i); }
    }
    return out;
  }

  function allChunks(b) {
    var wanted = [];
    for (var i = 0; i < b.chunks; i++) { wanted.push(i); }
    var done = 0;
    return Promise.all(wanted.map(function (i) {
      return getChunk(b, i).then(function (rows) {
        done += 1;
        b.status.textContent = "· searching, " + done + " of " + b.chunks + " data files read";
        return rows;
      });
    }));
  }

  function update(b) {
    var token = ++b.token;
    var positions = byFacets(b);
    var query = b.search.trim().toLowerCase();
    var ready = Promise.resolve(positions);
    if (query) {
      ready = allChunks(b).then(function (lists) {
        var out = [];
        var candidates = positions || null;
        var test = function (i) {
          var row = lists[Math.floor(i / b.chunkRows)][i % b.chunkRows];
          if (haystack(row).indexOf(query) >= 0) { out.push(i); }
        };
        if (candidates) { candidates.forEach(test); } else { for (var i = 0; i < b.rows; i++) { test(i); } }
        return out;
      });
    }
    return ready.then(function (found) {
      if (token !== b.token) { return; }
      b.positions = found;
      b.page = 0;
      return render(b);
    });
  }

  function render(b) {
    var started = performance.now();
    var token = ++b.token;
    var total = b.positions ? b.positions.length : b.rows;
    var pages = Math.max(1, Math.ceil(total / b.pageRows));
    b.page = Math.min(Math.max(b.page, 0), pages - 1);
    var from = b.page * b.pageRows;
    var shown = [];
    for (var i = from; i < Math.min(total, from + b.pageRows); i++) { shown.push(b.positions ? b.positions[i] : i); }
    var needed = Array.from(new Set(shown.map(function (p) { return Math.floor(p / b.chunkRows); })));
    return Promise.all(needed.map(function (c) { return getChunk(b, c); })).then(function () {
      if (token !== b.token) { return; }
      var fragment = document.createDocumentFragment();
      shown.forEach(function (p) {
        var rows = chunks.get(b.slug + "/" + Math.floor(p / b.chunkRows));
        fragment.appendChild(card(b, rows[p % b.chunkRows]));
      });
      if (!shown.length) { fragment.appendChild(el("p", "empty", "No sample matches these filters.")); }
      b.cards.replaceChildren(fragment);
      b.count.textContent = total.toLocaleString("en-US");
      b.status.textContent = total ? "· showing " + (from + 1).toLocaleString("en-US") + "–" +
        (from + shown.length).toLocaleString("en-US") : "";
      b.el.querySelectorAll(".page-label").forEach(function (node) {
        node.textContent = "page " + (b.page + 1).toLocaleString("en-US") + " of " + pages.toLocaleString("en-US");
      });
      b.el.querySelectorAll("button.prev").forEach(function (node) { node.disabled = b.page === 0; });
      b.el.querySelectorAll("button.next").forEach(function (node) { node.disabled = b.page >= pages - 1; });
      b.renders += 1;
      b.el.dataset.renders = String(b.renders);
      b.el.dataset.page = String(b.page + 1);
      window.__reportTiming = { page: b.page + 1, ms: performance.now() - started };
    }, function (error) {
      b.status.textContent = "· " + error.message + " (is the report folder complete?)";
    });
  }

  function init(section) {
    var b = {
      el: section, slug: section.dataset.slug, base: section.dataset.base, root: section.dataset.root,
      rows: Number(section.dataset.rows), chunkRows: Number(section.dataset.chunkRows),
      chunks: Number(section.dataset.chunks), pageRows: Number(section.dataset.pageRows),
      manifest: JSON.parse(section.dataset.manifest), filters: {}, search: "", page: 0, positions: null,
      token: 0, renders: 0, cards: section.querySelector(".cards"), count: section.querySelector("#match-count"),
      status: section.querySelector(".status")
    };
    section.querySelectorAll("select[data-facet]").forEach(function (select) {
      b.filters[select.dataset.facet] = Number(select.value);
      select.addEventListener("change", function () {
        b.filters[select.dataset.facet] = Number(select.value);
        update(b);
      });
    });
    var timer = null;
    var search = section.querySelector("#search");
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { b.search = search.value; update(b); }, 250);
    });
    section.querySelectorAll("button.prev").forEach(function (node) {
      node.addEventListener("click", function () { b.page -= 1; render(b); });
    });
    section.querySelectorAll("button.next").forEach(function (node) {
      node.addEventListener("click", function () { b.page += 1; render(b); });
    });
    loadScript(b.base + "/facets.js").then(function () {
      b.codes = facetCodes.get(b.slug) || {};
      return update(b);
    }, function (error) { b.status.textContent = "· " + error.message; });
  }

  document.querySelectorAll("section.browser").forEach(init);
})();
