// Click a column's header to sort the students' table by it (again: the other way round).
// Cells sort by their data-sort value: numbers as numbers, the rest as text.
(function () {
  var table = document.getElementById("students");
  var body = table.tBodies[0];
  function key(row, column) {
    var value = row.cells[column].getAttribute("data-sort");
    return value === "" || isNaN(value) ? value.toLowerCase() : parseFloat(value);
  }
  function sortBy(header, column) {
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a, column), y = key(b, column);
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * (ascending ? 1 : -1);
    });
    rows.forEach(function (row) { body.appendChild(row); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (cell) { cell.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header, column) {
    header.classList.add("sortable");
    header.addEventListener("click", function () { sortBy(header, column); });
  });
  table.setAttribute("data-sortable", "ready");  // the browser test's sign that this script ran
})();
