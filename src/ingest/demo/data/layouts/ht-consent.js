
(function () {
  var KEY = "ht_consent_v3";
  var banner = document.getElementById("ht-consent");
  function store(value) {
    try { window.localStorage.setItem(KEY, JSON.stringify({v: value, t: Date.now()})); }
    catch (e) { document.cookie = KEY + "=" + value + ";path=/;max-age=31536000"; }
  }
  function decided() {
    try { return !!window.localStorage.getItem(KEY); } catch (e) { return false; }
  }
  if (!banner) { return; }
  if (decided()) { banner.hidden = true; return; }
  banner.addEventListener("click", function (event) {
    var choice = event.target && event.target.getAttribute("data-consent");
    if (!choice) { return; }
    store(choice);
    banner.hidden = true;
    window.dataLayer = window.dataLayer || [];
    window.dataLayer.push({event: "consent_update", consent: choice});
  });
})();
