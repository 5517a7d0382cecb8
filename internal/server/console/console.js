// Strata console: arrow keys in the calendars. The pages work without this
// file: each day is a link, reachable with Tab. With it, each calendar is
// one Tab stop (its newest day) and the arrow keys move inside it:
// Left/Right the previous/next day, Up/Down the same day of the previous/
// next month, Home/End the first/last day; Enter opens the day.
(function () {
  "use strict";
  var steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -1, ArrowDown: 1 };

  // vertical returns the link in the same column dr rows away, skipping
  // days without data; null when there is none.
  function vertical(a, dr) {
    var td = a.parentNode, tr = td.parentNode, rows = tr.parentNode.rows;
    for (var r = tr.sectionRowIndex + dr; r >= 0 && r < rows.length; r += dr) {
      var c = rows[r].cells[td.cellIndex], l = c && c.querySelector("a.c");
      if (l) { return l; }
    }
    return null;
  }

  document.querySelectorAll("table.cal").forEach(function (cal) {
    var cells = Array.prototype.slice.call(cal.querySelectorAll("a.c"));
    if (cells.length === 0) { return; }
    cells.forEach(function (a, i) { a.tabIndex = i === cells.length - 1 ? 0 : -1; });
    cal.addEventListener("keydown", function (ev) {
      var i = cells.indexOf(document.activeElement), next = null;
      if (i < 0 || ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
      if (ev.key === "ArrowLeft" || ev.key === "ArrowRight") {
        next = cells[i + steps[ev.key]] || null;
      } else if (ev.key === "ArrowUp" || ev.key === "ArrowDown") {
        next = vertical(cells[i], steps[ev.key]);
      } else if (ev.key === "Home") {
        next = cells[0];
      } else if (ev.key === "End") {
        next = cells[cells.length - 1];
      } else {
        return;
      }
      ev.preventDefault();
      if (next) {
        cells[i].tabIndex = -1;
        next.tabIndex = 0;
        next.focus();
      }
    });
  });
}());
