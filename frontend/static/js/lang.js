// Loaded from <head> as a classic script, before the first paint: the language
// chosen earlier on this device, so the page never flashes the other one. A file
// and not an inline script: the pages' Content-Security-Policy allows no inline script.
try {
  if (localStorage.getItem("shuping.lang") === "en") {
    document.documentElement.dataset.lang = "en";
    document.documentElement.lang = "en";
  }
} catch (e) { /* storage unavailable: Chinese, the default */ }
