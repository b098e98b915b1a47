// The round form (/rounds/new/): "add a row" for the criteria table. Without
// this script the form still works: it always carries two blank rows.
(() => {
  const button = document.getElementById("add-criterion");
  const template = document.getElementById("criterion-row");
  const total = document.querySelector("input[name=criteria-TOTAL_FORMS]");
  const max = document.querySelector("input[name=criteria-MAX_NUM_FORMS]");
  const body = document.querySelector("#criteria table tbody");
  if (!button || !template || !total || !body) return;
  button.hidden = false;
  button.addEventListener("click", () => {
    const index = Number(total.value);
    if (max && index >= Number(max.value)) return;
    const row = template.content.firstElementChild.cloneNode(true);
    for (const input of row.querySelectorAll("input")) {
      for (const attribute of ["name", "id"]) {
        const value = input.getAttribute(attribute);
        if (value) input.setAttribute(attribute, value.replace("__prefix__", String(index)));
      }
    }
    row.dataset.row = String(index);
    body.appendChild(row);
    total.value = String(index + 1);
    row.querySelector("input")?.focus();
  });
})();
