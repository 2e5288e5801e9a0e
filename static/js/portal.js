// Small behaviours the server-rendered pages need; everything else is htmx.
document.addEventListener("htmx:afterSwap", (event) => {
  // After a successful touchpoint, keep focus where the user works.
  if (event.detail.target && event.detail.target.id === "activity") {
    const note = document.getElementById("tp-note");
    if (note && !note.value) note.blur();
  }
});
// Clearing filters from the results area also resets the filter form's controls.
document.addEventListener("click", (event) => {
  const reset = event.target.closest("[data-reset-filters]");
  if (!reset) return;
  const form = document.getElementById("book-filters");
  if (!form) return;
  form.querySelectorAll("select").forEach((s) => { s.selectedIndex = 0; });
  form.querySelectorAll("input[type=search]").forEach((i) => { i.value = ""; });
});
// A server error on an htmx request: say so instead of failing silently.
document.addEventListener("htmx:responseError", (event) => {
  if (event.detail.xhr && event.detail.xhr.status < 500) return;
  const flashes = document.getElementById("flashes");
  if (!flashes) return;
  flashes.innerHTML = '<div class="flash flash-error" role="alert">Something went wrong on our side; ' +
    "nothing was changed. Try again, and tell the team if it persists.</div>";
});
document.addEventListener("htmx:sendError", () => {
  const flashes = document.getElementById("flashes");
  if (flashes) flashes.innerHTML = '<div class="flash flash-error" role="alert">Could not reach the server. Check your connection and try again.</div>';
});
// Health model editor: keep the weights' total in view while a manager edits them.
document.addEventListener("input", (event) => {
  if (!event.target.matches("input.weight")) return;
  const form = event.target.form;
  const total = form && form.querySelector("[data-weight-total]");
  if (!total) return;
  let sum = 0;
  form.querySelectorAll("input.weight").forEach((i) => { sum += parseFloat(i.value) || 0; });
  sum = Math.round(sum * 100) / 100;
  total.textContent = String(sum);
  total.classList.toggle("soon", Math.abs(sum - 100) > 0.001);
});
// Imports: the column reference follows the kind being uploaded.
document.addEventListener("change", (event) => {
  if (event.target.id !== "imp-kind") return;
  document.querySelectorAll("details[data-kind]").forEach((d) => {
    d.open = d.dataset.kind === event.target.value;
  });
});
// Main nav menus: one open at a time; a click elsewhere or Escape closes them.
document.addEventListener("toggle", (event) => {
  const group = event.target;
  if (!group.matches || !group.matches("details.navgroup") || !group.open) return;
  document.querySelectorAll("details.navgroup[open]").forEach((d) => { if (d !== group) d.open = false; });
}, true);
document.addEventListener("click", (event) => {
  if (event.target.closest("details.navgroup")) return;
  document.querySelectorAll("details.navgroup[open]").forEach((d) => { d.open = false; });
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  document.querySelectorAll("details.navgroup[open]").forEach((d) => { d.open = false; });
});
