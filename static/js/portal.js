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
