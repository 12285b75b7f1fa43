// Runs in the zero-height component iframe (views/keyboard.py). It only hands the page's data to
// chatdeck-keys.js, which it loads once into the app page itself: from this same origin, so the app's
// Content-Security-Policy (script-src 'self') allows it, and it outlives this frame across reruns.
(function () {
  "use strict";
  var app = window.parent;
  function post(type, extra) {
    var message = { isStreamlitMessage: true, type: type };
    for (var name in extra) message[name] = extra[name];
    app.postMessage(message, "*");
  }
  function deliver(args) {
    app.chatdeckKeysArgs = args;
    if (app.chatdeckKeys) {
      app.chatdeckKeys.update(args);
      return;
    }
    if (!app.document.getElementById("chatdeck-keys-script")) {
      var script = app.document.createElement("script");
      script.id = "chatdeck-keys-script";
      script.src = new URL("chatdeck-keys.js", document.baseURI).href;
      app.document.head.appendChild(script);
    }
  }
  window.addEventListener("message", function (event) {
    if (event.source !== app || !event.data || event.data.type !== "streamlit:render") return;
    deliver(event.data.args || {});
    post("streamlit:setFrameHeight", { height: 0 });
  });
  post("streamlit:componentReady", { apiVersion: 1 });
})();
