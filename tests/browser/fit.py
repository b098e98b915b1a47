"""What a hall screen must hold: every text inside its box, the window and any box that clips it."""

# Every visible element that holds text of its own must show all of it inside
# its box, and inside the 1920x1080 window; returns what fails, for the message.
CUT_OFF = """
() => {
  const bad = [];
  const W = window.innerWidth, H = window.innerHeight;
  for (const el of document.querySelectorAll("#screen *")) {
    if (!el.getClientRects().length) continue;  // not rendered (the other language, hidden panels)
    const style = getComputedStyle(el);
    if (style.visibility === "hidden") continue;
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const r = el.getBoundingClientRect();
    const name = `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${[...el.classList].join(".")}`;
    const text = el.textContent.trim().slice(0, 40);
    if (style.display !== "inline" && el.scrollWidth > el.clientWidth + 1) bad.push(`overflows its box: ${name} "${text}" ${el.scrollWidth}>${el.clientWidth}`);
    const where = `${Math.round(r.left)},${Math.round(r.top)}-${Math.round(r.right)},${Math.round(r.bottom)}`;
    if (r.right > W + 1 || r.bottom > H + 1 || r.left < -1 || r.top < -1) bad.push(`outside the screen: ${name} "${text}" ${where}`);
    // ... or clipped by a box that hides its overflow (the stage under the footer)
    for (let up = el.parentElement; up && up.id !== "screen"; up = up.parentElement) {
      if (getComputedStyle(up).overflow === "visible") continue;
      const c = up.getBoundingClientRect();
      if (r.bottom > c.bottom + 1 || r.right > c.right + 1) bad.push(`clipped: ${name} "${text}" ${where} by ${up.tagName.toLowerCase()}.${[...up.classList].join(".")}`);
      break;
    }
  }
  return bad;
}
"""
