// Draws the lag charts of a flow page from the JSON embedded in it (no request leaves the page).
(function () {
  "use strict";
  var source = document.getElementById("lag-history");
  if (!source || typeof uPlot === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var palette = ["#2f6fde", "#d9480f", "#2b8a3e", "#7048e8", "#c2255c", "#0b7285", "#5c940d", "#e67700"];
  document.querySelectorAll(".chart").forEach(function (container) {
    var columns = data[container.dataset.series];
    var series = [{ label: "time" }];
    data.topics.forEach(function (topic, index) {
      series.push({ label: topic, stroke: palette[index % palette.length], width: 2, spanGaps: false });
    });
    var options = {
      title: container.dataset.title,
      width: Math.max(320, container.clientWidth - 16),
      height: 240,
      series: series,
      axes: [{}, { size: 70 }],
      scales: { x: { time: true } }
    };
    new uPlot(options, [data.times].concat(columns), container);
  });
})();
