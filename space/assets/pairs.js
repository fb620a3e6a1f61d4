// The all-pairs chart (js_on_load of the All pairs gr.HTML): hovering (or tapping) a cell shows both Pokémon, their
// cosine and where each ranks in the other's list, from one row's numbers fetched with server.row (cached per
// row); a click on the chart or on a mark opens that row's Pokémon in Similar (the Python listener).
// Globals given by Gradio: element, trigger, server.
const rows = new Map();
let pending = null, timer = null;

function data() {
  const script = element.querySelector(".pk-pairs-data");
  if (!script) return null;
  if (script._parsed) return script._parsed;
  script._parsed = JSON.parse(script.textContent);
  return script._parsed;
}

function esc(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function cell(event) {
  const img = element.querySelector(".pk-pairs-img");
  const d = data();
  if (!img || !d) return null;
  const box = img.getBoundingClientRect();
  const x = (event.clientX - box.left) / box.width, y = (event.clientY - box.top) / box.height;
  if (x < 0 || y < 0 || x >= 1 || y >= 1) return null;
  return { row: Math.floor(y * d.size), col: Math.floor(x * d.size), d };
}

function thumb(d, i) { return d.has_artwork[i] ? d.thumb_base + d.ids[i] + ".webp" : d.placeholder; }

function person(d, i) {
  return `<figure><img src="${esc(thumb(d, i))}" alt="" width="72" height="72"><figcaption>${esc(d.display_names[i])}` +
    ` <small>#${d.ids[i]}</small></figcaption></figure>`;
}

function show(at, numbers) {
  const tip = element.querySelector(".pk-pairs-tip");
  const { d, row, col } = at;
  const cosine = numbers.cosines[col];
  const here = numbers.rank_of_column[col], there = numbers.rank_in_column[col];
  const a = esc(d.display_names[row]), b = esc(d.display_names[col]);
  const ranks = row === col ? "the same Pokémon" : cosine === null ? "no artwork to compare"
    : `${b} is ${a}'s #${here} most similar; ${a} is ${b}'s #${there}`;
  tip.innerHTML = `<div class="pk-pairs-who">${person(d, row)}${person(d, col)}</div>` +
    `<p><b>cosine ${cosine === null ? "—" : cosine.toFixed(3)}</b></p><p>${ranks}</p>` +
    `<p class="pk-heading">Click to explore ${a}.</p>`;
}

async function hover(at) {
  const key = `${at.d.modality}/${at.d.default_only}/${at.row}`;
  if (!rows.has(key)) {
    pending = key;
    rows.set(key, await server.row({ modality: at.d.modality, default_only: at.d.default_only, position: at.row }));
    if (pending !== key) return;
  }
  show(at, rows.get(key));
}

element.addEventListener("pointermove", (event) => {
  const at = cell(event);
  if (!at) return;
  clearTimeout(timer);
  timer = setTimeout(() => hover(at).catch(() => {}), 60);
});

element.addEventListener("click", (event) => {
  const mark = event.target.closest("[data-name]");
  if (mark && element.contains(mark)) {
    trigger("click", { name: mark.dataset.name });
    return;
  }
  const at = event.target.closest(".pk-pairs-img") ? cell(event) : null;
  if (!at) return;
  if (event.pointerType === "touch" || event.detail === 0) { hover(at).catch(() => {}); return; }
  trigger("click", { name: at.d.names[at.row] });
});
