// Draw every Plotly figure the server shipped as JSON (<script type="application/json"
// id="fig-KEY">, drawn into #chart-KEY). Runs on load and after htmx swaps in new fragments.
(function () {
  function draw(root) {
    if (!window.Plotly) return;
    root.querySelectorAll('script[type="application/json"][id^="fig-"]').forEach((node) => {
      const target = document.getElementById("chart-" + node.id.slice(4));
      if (!target || target.dataset.drawn) return;
      const fig = JSON.parse(node.textContent);
      window.Plotly.newPlot(target, fig.data, fig.layout, {
        displaylogo: false, responsive: true,
        modeBarButtonsToRemove: ["lasso2d", "select2d"],
      });
      target.dataset.drawn = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", () => draw(document));
  document.addEventListener("htmx:afterSettle", (event) => draw(event.detail.elt || document));
})();
