// The page's document-level behaviour (launch's head): the URL naming what is shown. After the visitor's first
// interaction, the URL's query names the tab and the Pokémon (and the question or the expression), replaced (not
// pushed) as they explore; space/page_links.py opens such a link. (The Pokémon box is assets/controls.js's.)
(() => {
  const TABS = { "Similar": "similar", "Ask": "ask", "By picture": "picture", "Sums": "arithmetic", "Map": "map",
                 "Oddballs": "oddballs", "All pairs": "pairs" };
  const value = (selector) => { const el = document.querySelector(selector); return el ? el.value.trim() : ""; };
  function described() {
    const selected = document.querySelector("#pk-tabs [role=tab][aria-selected=true]");
    const tab = selected ? TABS[selected.textContent.trim()] : null;
    if (!tab) return null;
    const params = new URLSearchParams({ tab });
    const chosen = document.querySelector("#similar-view [data-chosen]");
    if (chosen && ["similar", "map"].includes(tab)) params.set("pokemon", chosen.dataset.chosen);
    const mode = document.querySelector("#rank-mode input:checked");
    if (tab === "similar" && mode) params.set("mode", mode.value);
    if (tab === "ask" && value("#question textarea")) params.set("q", value("#question textarea"));
    if (tab === "arithmetic" && value("#arithmetic-expression textarea, #arithmetic-expression input")) {
      params.set("expr", value("#arithmetic-expression textarea, #arithmetic-expression input"));
      const space = document.querySelector("#arithmetic-space input:checked");
      if (space) params.set("space", space.value);
    }
    const pair = document.querySelector("#pairs-view [data-pairs-modality]");
    if (tab === "pairs" && pair) params.set("modality", pair.dataset.pairsModality);
    return params;
  }
  let started = false, timer = null;
  function update() {
    if (!started) return;
    clearTimeout(timer);
    timer = setTimeout(() => {
      const params = described();
      if (!params) return;
      const query = "?" + params.toString();
      if (query !== location.search) history.replaceState(history.state, "", location.pathname + query);
    }, 350);
  }
  const start = (event) => { if (event.isTrusted) { started = true; update(); } };
  ["pointerup", "keyup", "change"].forEach((type) => document.addEventListener(type, start, true));
  window.pokembedLink = { described, update, started: () => started };
  new MutationObserver(update).observe(document.documentElement, { childList: true, subtree: true });
})();
