// The Similar tab's controls (js_on_load of their gr.HTML; Gradio gives element, props and watch). props.value is
// the request {name, mode, k, forms}: a change by the visitor sets it, and Gradio then fires the component's change
// event, which shows the results; a change by the server (a click on a picture, a shared link, a failed request
// put back to what is shown) is drawn here. The slider and the number box send once the visitor pauses (300 ms),
// and the number box only a whole number in range.
const box = element.querySelector("#pokemon-name input");
const radios = Array.from(element.querySelectorAll("#rank-mode input"));
const range = element.querySelector("#similar-k input[type=range]");
const number = element.querySelector("#similar-k input[type=number]");
const forms = element.querySelector("#similar-default-only input");
// the list: "label<TAB>name" lines (props.names); its <option>s are made when the box is first used
const list = element.querySelector("datalist");
const pairs = String(props.names || "").split("\n").filter(Boolean).map((line) => line.split("\t"));
const names = new Map(), labels = new Map();
for (const [label, name] of pairs) {
  names.set(label.toLowerCase(), name);
  labels.set(name, label);
}
function fill() {
  if (list.options.length) return;
  const options = document.createDocumentFragment();
  for (const [label] of pairs) options.appendChild(document.createElement("option")).value = label;
  list.appendChild(options);
}
const nameOf = (text) => names.get(text.trim().toLowerCase()) || text.trim();
const labelOf = (name) => labels.get(name) || name || "";

function draw() {  // the box and the number box are left alone while the visitor types in them
  const value = props.value || {};
  if (document.activeElement !== box) box.value = labelOf(value.name);
  for (const radio of radios) radio.checked = radio.value === value.mode;
  if (value.k !== undefined && document.activeElement !== number) range.value = number.value = String(value.k);
  forms.checked = value.forms !== false;
}

let timer = null;
function send(changes) {
  clearTimeout(timer);
  const next = { ...props.value, ...changes };
  if (JSON.stringify(next) !== JSON.stringify(props.value)) props.value = next;
}
function sendLater(changes) {
  clearTimeout(timer);
  timer = setTimeout(() => send(changes), 300);
}
const typedNumber = () => number.value !== "" && number.validity.valid;  // a whole number from 1 to the maximum

// focusing the box selects its text, so typing searches from empty rather than appending to the name shown
box.addEventListener("focus", () => { fill(); box.select(); });
box.addEventListener("change", () => send({ name: nameOf(box.value) }));
box.addEventListener("input", (event) => {  // a pick from the list (not a letter typed) is sent at once
  if (event.inputType && event.inputType !== "insertReplacementText") return;
  if (names.has(box.value.trim().toLowerCase())) send({ name: nameOf(box.value) });
});
box.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.isComposing) send({ name: nameOf(box.value) });
  if (event.key === "Escape") {  // put back the Pokémon shown and leave the box (which closes its list)
    box.value = labelOf((props.value || {}).name);
    box.blur();
  }
});
box.addEventListener("blur", () => setTimeout(draw, 0));
for (const radio of radios) radio.addEventListener("change", () => { if (radio.checked) send({ mode: radio.value }); });
// (a range fires change for every arrow key, so both its events wait for the pause)
range.addEventListener("input", () => { number.value = range.value; sendLater({ k: Number(range.value) }); });
range.addEventListener("change", () => sendLater({ k: Number(range.value) }));
number.addEventListener("input", () => {
  if (!typedNumber()) return clearTimeout(timer);
  range.value = number.value;
  sendLater({ k: Number(number.value) });
});
function commitNumber() {  // Enter or leaving the box: a good number is sent now, anything else put back
  if (typedNumber()) send({ k: Number(number.value) });
  else {
    clearTimeout(timer);
    range.value = number.value = String((props.value || {}).k);
  }
}
number.addEventListener("change", commitNumber);
number.addEventListener("blur", () => setTimeout(draw, 0));
number.addEventListener("keydown", (event) => { if (event.key === "Enter") commitNumber(); });
forms.addEventListener("change", () => send({ forms: forms.checked }));

watch("value", draw);
draw();
