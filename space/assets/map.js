// The map (js_on_load of the map's gr.HTML): a canvas of every Pokémon laid out by UMAP or by PCA, artwork on hover,
// a click selects a Pokémon and lists its stored nearest neighbours beside the plot. When the tab first opens,
// props.value names the data's URL (a JSON file the server compresses and the browser caches) and the row to start
// on; switching the layout, colouring, finding and selecting then happen here, with no round trip to the server.
// Globals given by Gradio: element, props, trigger, watch.
const state = { data: null, url: null, selected: -1, colourBy: "generation", projection: "umap", points: null,
                view: { k: 1, tx: 0, ty: 0 }, fit: "main", pointers: new Map(), moved: 0 };
// zoom and pan: screen point = base point × view.k + (view.tx, view.ty); "main" fits the middle 96% of the points
// (outliers off screen until zoomed out), "all" fits every point

function $(selector) { return element.querySelector(selector); }

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function fold(text) {
  return String(text).normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase().replace(/[^a-z0-9]/g, "");
}

function thumb(row) {
  const d = state.data;
  return d.art[row] ? d.thumb_base + d.id[row] + ".webp" : d.placeholder;
}

function xs() { return state.projection === "pca" ? state.data.pca_x : state.data.x; }
function ys() { return state.projection === "pca" ? state.data.pca_y : state.data.y; }

function axes() {
  const box = $(".pk-map-axes");
  if (!box || !state.data) return;
  const v = state.data.pca_variance || [];
  box.textContent = state.projection === "pca" && v.length === 2
    ? `PCA: the x axis explains ${(100 * v[0]).toFixed(1)}% of the variance of the concatenated vectors, ` +
      `the y axis ${(100 * v[1]).toFixed(1)}%.`
    : "UMAP: the axes have no units; only who sits near whom means something.";
}

function groupOf(row) {
  const d = state.data;
  return state.colourBy === "type" ? d.type[row] : d.gen[row];
}

function colours() {
  const d = state.data;
  return state.colourBy === "type" ? d.type_colours : d.gen_colours;
}

function labels() {
  const d = state.data;
  return state.colourBy === "type" ? d.types : d.gens;
}

function layout() {
  const canvas = $("canvas.pk-map-canvas");
  if (!canvas || !state.data) return null;
  const box = canvas.parentElement.getBoundingClientRect();
  const width = Math.max(200, Math.floor(box.width));
  const height = Math.round(Math.min(640, Math.max(280, width * 0.72)));
  const ratio = window.devicePixelRatio || 1;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.width = width + "px";
  canvas.style.height = height + "px";
  const X = xs(), Y = ys();
  const pad = 14;
  const [minX, maxX] = bounds(X), [minY, maxY] = bounds(Y);
  const scale = Math.min((width - 2 * pad) / (maxX - minX || 1), (height - 2 * pad) / (maxY - minY || 1));
  const offX = (width - scale * (maxX - minX)) / 2, offY = (height - scale * (maxY - minY)) / 2;
  const { k, tx, ty } = state.view;
  state.points = X.map((x, i) => [(offX + (x - minX) * scale) * k + tx, (height - (offY + (Y[i] - minY) * scale)) * k + ty]);
  element.pkMapPoints = state.points;  // for the browser test: where each Pokémon is drawn
  return { canvas, ratio, width, height };
}

function bounds(values) {
  const sorted = Float64Array.from(values).sort();
  const cut = state.fit === "main" ? Math.floor(sorted.length * 0.02) : 0;
  return [sorted[cut], sorted[sorted.length - 1 - cut]];
}

function zoom(factor, px, py) {
  const v = state.view;
  const k = Math.min(40, Math.max(0.5, v.k * factor));
  const f = k / v.k;
  state.view = { k, tx: px - (px - v.tx) * f, ty: py - (py - v.ty) * f };
  tooltip(-1);
  draw();
}

function fit(how) {
  state.fit = how;
  state.view = { k: 1, tx: 0, ty: 0 };
  tooltip(-1);
  draw();
}

function ink() { return getComputedStyle(element).color || "#111827"; }

function draw() {
  const view = layout();
  if (!view) return;
  const { canvas, ratio, width, height } = view;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const palette = colours();
  const near = new Set(state.selected >= 0 ? state.data.nb[state.selected] : []);
  const dim = state.selected >= 0;
  state.points.forEach(([x, y], i) => {
    ctx.globalAlpha = dim && i !== state.selected && !near.has(i) ? 0.35 : 0.85;
    ctx.fillStyle = palette[groupOf(i)];
    ctx.beginPath();
    ctx.arc(x, y, 3.2, 0, 2 * Math.PI);
    ctx.fill();
  });
  ctx.globalAlpha = 1;
  ctx.lineWidth = 2;
  ctx.strokeStyle = ink();
  near.forEach((i) => {
    const [x, y] = state.points[i];
    ctx.beginPath();
    ctx.arc(x, y, 6.5, 0, 2 * Math.PI);
    ctx.stroke();
  });
  if (state.selected >= 0) {
    const [x, y] = state.points[state.selected];
    ctx.fillStyle = "#facc15";
    ctx.beginPath();
    ctx.arc(x, y, 8.5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
    const text = state.data.label[state.selected];
    ctx.font = "600 13px system-ui, sans-serif";
    const w = ctx.measureText(text).width;
    const tx = Math.min(Math.max(x - w / 2, 4), width - w - 4), ty = y > 28 ? y - 14 : y + 24;
    ctx.fillStyle = getComputedStyle(canvas).backgroundColor || "#fff";
    ctx.fillRect(tx - 3, ty - 12, w + 6, 16);
    ctx.fillStyle = ink();
    ctx.fillText(text, tx, ty);
  }
  legend();
  axes();
}

function legend() {
  const box = $(".pk-map-legend");
  if (!box) return;
  const palette = colours();
  const shown = new Set(state.data.x.map((_, i) => groupOf(i)));
  box.innerHTML = labels().map((label, g) => shown.has(g)
    ? `<span class="pk-legend-item"><i style="background:${palette[g]}"></i>${escapeHtml(label)}</span>` : "").join("");
}

function nearest(clientX, clientY, radius) {
  const canvas = $("canvas.pk-map-canvas");
  if (!canvas || !state.points) return -1;
  const rect = canvas.getBoundingClientRect();
  const px = clientX - rect.left, py = clientY - rect.top;
  let best = -1, bestDist = radius * radius;
  state.points.forEach(([x, y], i) => {
    const dist = (x - px) ** 2 + (y - py) ** 2;
    if (dist <= bestDist) { best = i; bestDist = dist; }
  });
  return best;
}

function tooltip(row, clientX, clientY) {
  const tip = $(".pk-map-tip");
  if (!tip) return;
  if (row < 0) { tip.hidden = true; return; }
  const d = state.data;
  tip.innerHTML = `<img src="${thumb(row)}" alt="" width="96" height="96"><b>${escapeHtml(d.label[row])}</b>` +
    `<span>${escapeHtml(d.gens[d.gen[row]])} · ${escapeHtml(d.type_names[row])}</span>`;
  tip.hidden = false;
  const host = $(".pk-map-plot").getBoundingClientRect();
  const left = Math.min(clientX - host.left + 14, host.width - 150);
  const top = clientY - host.top + 14;
  tip.style.left = Math.max(0, left) + "px";
  tip.style.top = Math.min(top, host.height - 150) + "px";
}

function distance(a, b) {
  const X = xs(), Y = ys();
  return Math.hypot(X[a] - X[b], Y[a] - Y[b]);
}

function storedDistance(v) {
  return v >= 0.01 ? v.toFixed(3) : v.toPrecision(2);  // tiny random-weight models give distances near 0
}

function side() {
  const panel = $(".pk-map-side");
  if (!panel) return;
  const d = state.data;
  if (state.selected < 0) {
    panel.innerHTML = `<p class="pk-heading">Hover a point to see its artwork; click one (or find it by name) to ` +
      `list its nearest neighbours here.</p>`;
    return;
  }
  const row = state.selected;
  // The dataset's own distance (neighbors.distances: cosine distance of the combined text and image vectors), the
  // order the list is in; the distance on this 2-D map only in the tooltip, or where the dataset stores none.
  const stored = (d.nd && d.nd[row]) || [];
  const hasStored = stored.some((v) => v !== null && v !== undefined);
  const mapName = state.projection === "pca" ? "PCA" : "UMAP";
  const items = d.nb[row].map((i, j) => {
    const onMap = `distance on the ${mapName} map ${distance(row, i).toFixed(2)}`;
    const v = stored[j];
    const known = v !== null && v !== undefined;
    const dist = known
      ? `<small class="pk-map-dist" data-distance="${v}" title="cosine distance of the text + image vectors; ${onMap}">` +
        `${storedDistance(v)}</small>`
      : `<small class="pk-map-dist" title="${onMap}">map ${distance(row, i).toFixed(2)}</small>`;
    return `<li><button type="button" class="pk-map-pick" data-row="${i}"><img src="${thumb(i)}" alt="" width="40" ` +
      `height="40" loading="lazy"><span>${escapeHtml(d.label[i])}</span>${dist}</button></li>`;
  }).join("");
  const heading = hasStored
    ? `Nearest neighbours (the dataset's <code>neighbors</code>: cosine distance of the text + image vectors)`
    : `Nearest neighbours on this map (the dataset stores none)`;
  panel.innerHTML = `<div class="pk-map-chosen"><img src="${thumb(row)}" alt="" width="96" height="96">` +
    `<div><b>${escapeHtml(d.label[row])}</b><span>${escapeHtml(d.gens[d.gen[row]])}<br>${escapeHtml(d.type_names[row])}` +
    `</span><button type="button" class="pk-map-open" data-name="${escapeHtml(d.name[row])}">Similar Pokémon →</button>` +
    `</div></div><p class="pk-heading">${heading}</p><ol class="pk-map-list">${items}</ol>`;
}

function select(row) {
  state.selected = row;
  const msg = $(".pk-map-message");
  if (msg) msg.textContent = "";
  draw();
  side();
}

function find(text) {
  const d = state.data;
  const key = fold(text);
  const msg = $(".pk-map-message");
  if (!key) return;
  let row = d.name.findIndex((n, i) => fold(n) === key || fold(d.label[i]) === key);
  if (row < 0) row = d.name.findIndex((n, i) => fold(d.label[i]).startsWith(key));
  if (row < 0) {
    if (msg) msg.textContent = `No Pokémon named “${text.trim()}” on the map; pick a name from the list.`;
    return;
  }
  select(row);
}

function show(d, start) {
  state.data = d;
  const list = $("datalist");
  if (list && !list.children.length) {
    list.innerHTML = d.label.map((l) => `<option value="${escapeHtml(l)}"></option>`).join("");
  }
  if (state.selected < 0 && start >= 0) state.selected = start;
  draw();
  side();
}

function fill() {
  const v = props.value;
  if (!v || !v.url) return;
  if (state.data && state.url === v.url) { show(state.data, v.start); return; }  // re-rendered: draw again
  if (state.url === v.url) return;  // already on its way
  state.url = v.url;
  fetch(v.url)
    .then((response) => { if (!response.ok) throw new Error(response.status); return response.json(); })
    .then((d) => show(d, v.start))
    .catch(() => {
      state.url = null;
      const panel = $(".pk-map-side");
      if (panel) panel.innerHTML = '<p class="pk-heading">The map could not be loaded; reload the page to try again.</p>';
    });
}

function local(event) {
  const rect = $("canvas.pk-map-canvas").getBoundingClientRect();
  return [event.clientX - rect.left, event.clientY - rect.top];
}
element.addEventListener("wheel", (event) => {
  if (!state.data || !event.target.matches("canvas.pk-map-canvas")) return;
  event.preventDefault();
  const [px, py] = local(event);
  zoom(Math.exp(-event.deltaY * 0.0015), px, py);
}, { passive: false });
element.addEventListener("pointerdown", (event) => {
  if (!state.data || !event.target.matches("canvas.pk-map-canvas")) return;
  event.target.setPointerCapture(event.pointerId);
  state.pointers.set(event.pointerId, local(event));
  state.moved = 0;
});
element.addEventListener("pointermove", (event) => {
  if (!state.pointers.has(event.pointerId)) return;
  const [px, py] = local(event);
  const [ox, oy] = state.pointers.get(event.pointerId);
  if (state.pointers.size === 1) {  // drag: pan
    state.view = { ...state.view, tx: state.view.tx + px - ox, ty: state.view.ty + py - oy };
    state.moved += Math.abs(px - ox) + Math.abs(py - oy);
    if (state.moved > 4) { tooltip(-1); draw(); }
  } else if (state.pointers.size === 2) {  // pinch: zoom around the middle of the two fingers
    const [other] = [...state.pointers].filter(([id]) => id !== event.pointerId).map(([, p]) => p);
    const before = Math.hypot(ox - other[0], oy - other[1]), after = Math.hypot(px - other[0], py - other[1]);
    if (before > 0) zoom(after / before, (px + other[0]) / 2, (py + other[1]) / 2);
    state.moved += 10;
  }
  state.pointers.set(event.pointerId, [px, py]);
});
["pointerup", "pointercancel"].forEach((type) => element.addEventListener(type, (event) => {
  state.pointers.delete(event.pointerId);
}));
element.addEventListener("mousemove", (event) => {
  if (!state.data || !event.target.matches("canvas.pk-map-canvas")) return;
  const row = nearest(event.clientX, event.clientY, 10);
  event.target.style.cursor = row >= 0 ? "pointer" : "default";
  tooltip(row, event.clientX, event.clientY);
});
element.addEventListener("mouseleave", () => tooltip(-1));
element.addEventListener("click", (event) => {
  if (!state.data) return;
  const fitButton = event.target.closest("[data-fit]");
  if (fitButton) { event.preventDefault(); fit(fitButton.dataset.fit); return; }
  if (event.target.matches("canvas.pk-map-canvas")) {
    if (state.moved > 4) return;  // the end of a drag, not a click
    const row = nearest(event.clientX, event.clientY, 14);
    if (row >= 0) { select(row); tooltip(row, event.clientX, event.clientY); }
    return;
  }
  const pick = event.target.closest(".pk-map-pick");
  if (pick) { select(Number(pick.dataset.row)); return; }
  const open = event.target.closest(".pk-map-open");
  if (open) trigger("click", { name: open.dataset.name });
});
element.addEventListener("change", (event) => {
  if (event.target.matches("select.pk-map-colour")) { state.colourBy = event.target.value; tooltip(-1); draw(); }
  if (event.target.matches("select.pk-map-layout")) {
    state.projection = event.target.value;
    state.view = { k: 1, tx: 0, ty: 0 };
    tooltip(-1);
    draw();
    side();
  }
});
element.addEventListener("keydown", (event) => {
  if (event.target.matches("input.pk-map-find") && event.key === "Enter") { event.preventDefault(); find(event.target.value); }
});
element.addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("input.pk-map-find");
  if (input) find(input.value);
});
new ResizeObserver(() => { if (state.data) draw(); }).observe(element);
watch("value", fill);
fill();
