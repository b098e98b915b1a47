// The hall screen is read-only and has no language button: its language is its
// link's (?lang=en), never a choice stored on the device. Loaded from <head> after
// lang.js, as a file (the Content-Security-Policy allows no inline script).
(function () {
  var en = new URLSearchParams(location.search).get("lang") === "en";
  if (en) document.documentElement.dataset.lang = "en";
  else delete document.documentElement.dataset.lang;
  document.documentElement.lang = en ? "en" : "zh-Hans";
})();
