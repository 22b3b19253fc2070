// The console's only script: pages work without it; it adds "select every mailbox shown" to the grid.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const all = document.getElementById("select-all");
  if (all) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll('input[name="mailbox"]')) box.checked = all.checked;
    });
  }
});
