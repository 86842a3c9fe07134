// Progressive enhancement only: every console page and form works without this file.
// Where a form came back with errors, move focus to the error summary, so keyboard and screen-reader
// users start at the list of what to fix (each item links to its field).
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector(".error-summary");
  if (summary) {
    summary.focus();
  }
});
