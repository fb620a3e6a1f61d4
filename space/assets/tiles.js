// Click on any picture tile (js_on_load of a results gr.HTML): choose that Pokémon. The Python listener sets the
// Similar tab's request to it (page_controls) and opens that tab; the view scrolls back up to the chosen
// Pokémon's card.
// Globals given by Gradio: element, trigger.
element.addEventListener("click", (event) => {
  const tile = event.target.closest("[data-name]");
  if (!tile || !element.contains(tile)) return;
  event.preventDefault();
  trigger("click", { name: tile.dataset.name });
  setTimeout(() => {
    const view = document.getElementById("similar-controls");
    if (view && view.getBoundingClientRect().top < 0) view.scrollIntoView({ behavior: "smooth", block: "start" });
  }, 200);
});
