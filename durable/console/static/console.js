// Every page: show a banner while the server cannot be reached, and keep retrying until it can.
// Pages report trouble with `durableConsole.unreachable()` (the topology stream does); a probe of
// /console/ping every 5 s (backing off to 20 s while down) finds out when the server is back.
(function () {
  "use strict";
  var banner = null;
  var down = false;
  var delay = 5000;
  var timer = null;
  var listeners = [];

  function show(message) {
    if (!banner) { return; }
    banner.textContent = message;
    banner.hidden = false;
  }

  function probe() {
    timer = null;
    fetch("/console/ping", { cache: "no-store", credentials: "same-origin" }).then(function (response) {
      if (!response.ok && response.status >= 500) { throw new Error("status " + response.status); }
      if (down) {
        down = false;
        delay = 5000;
        if (banner) { banner.hidden = true; }
        listeners.forEach(function (fn) { fn(); });
      }
      schedule(5000);
    }).catch(function () {
      down = true;
      delay = Math.min(delay * 2, 20000);
      show("Cannot reach the server. Retrying in " + Math.round(delay / 1000) + " s…");
      schedule(delay);
    });
  }

  function schedule(ms) {
    if (timer !== null) { clearTimeout(timer); }
    timer = setTimeout(probe, ms);
  }

  window.durableConsole = {
    unreachable: function () {
      if (!down) {
        down = true;
        show("Cannot reach the server. Retrying…");
        schedule(1000);
      }
    },
    onReconnect: function (fn) { listeners.push(fn); },
    isDown: function () { return down; }
  };

  document.addEventListener("DOMContentLoaded", function () {
    banner = document.getElementById("offline");
    schedule(5000);
  });
})();
