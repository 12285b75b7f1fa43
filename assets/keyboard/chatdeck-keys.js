// Chatdeck's keyboard shortcuts, input focus, visible focus and "Jump to latest", in the app page.
// Streamlit has no keyboard API: this script acts on the page as a person would (it focuses the
// chat input and presses Chatdeck's own buttons and links), found by Streamlit's test ids and the
// st-key-<key> classes of keyed widgets. Loaded once per page by assets/keyboard/loader.js.
(function () {
  "use strict";
  if (window.chatdeckKeys) return;

  var state = { lastAnswer: "", inputWasReady: false };
  var JUMP_SLACK = 48; // pixels from the bottom that still count as "at the latest"

  function query(selector) { return document.querySelector(selector); }
  function chatInput() { return query('[data-testid="stChatInputTextArea"]'); }
  function isTyping(element) {
    return !!element && (element.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(element.tagName));
  }
  function press(selector) {
    var button = query(selector);
    if (!button || button.disabled) return false;
    button.click();
    return true;
  }
  function announce(text) {
    var live = document.getElementById("chatdeck-announce");
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 30);
  }
  function focusInput() {
    var input = chatInput();
    if (!input || input.disabled) return false;
    input.focus({ preventScroll: true });
    return true;
  }

  function copyLastAnswer() {
    var text = state.lastAnswer;
    if (!text) { announce("There is no answer to copy yet."); return; }
    var done = function () { announce("Last answer copied."); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { copyByCommand(text) && done(); });
    } else if (copyByCommand(text)) {
      done();
    }
  }
  function copyByCommand(text) { // plain-http deployments have no clipboard API
    var area = document.createElement("textarea");
    var before = document.activeElement;
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (error) { ok = false; }
    area.remove();
    if (before && before.focus) before.focus({ preventScroll: true });
    return ok;
  }

  var ALT_KEYS = {
    KeyN: function () { // a new chat, or a new comparison on the Compare page
      return press('.st-key-new_chat button') || press('.st-key-cmp_new button');
    },
    KeyI: focusInput,
    KeyC: function () { copyLastAnswer(); return true; },
    KeyK: function () {
      var link = query('[data-testid="stSidebarNavLink"][href$="/compare"]');
      if (link) link.click(); else window.location.assign("compare");
      return true;
    },
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    if (event.altKey && !event.ctrlKey && !event.metaKey && !event.shiftKey && ALT_KEYS[event.code]) {
      if (ALT_KEYS[event.code]() !== false) event.preventDefault();
      return;
    }
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    if (event.key === "/" && !isTyping(event.target)) {
      if (focusInput()) event.preventDefault();
    } else if (event.key === "Escape" && !query('[role="dialog"], [role="listbox"], [data-testid="stPopoverBody"]')) {
      if (press('[class*="st-key-stop_"] button')) event.preventDefault(); // stop the reply being written
    }
  }, true);

  // Focus the chat input on arrival and whenever it comes back after an answer (it is disabled
  // while the page runs), unless the reader has put the focus somewhere else meanwhile.
  function followInput() {
    var input = chatInput();
    var ready = !!input && !input.disabled;
    if (ready && !state.inputWasReady) {
      var active = document.activeElement;
      if (!active || active === document.body || active === input) focusInput();
    }
    state.inputWasReady = ready;
  }

  // "Jump to latest": shown while a reply is being written below the fold. It never scrolls by itself:
  // Streamlit keeps following a reply only for a reader who stays at the bottom, and so does this.
  var jump = document.createElement("button");
  jump.type = "button";
  jump.id = "chatdeck-jump";
  jump.textContent = "\u2193 Jump to latest";
  jump.hidden = true;
  jump.addEventListener("click", function () {
    var box = scroller();
    if (box) box.scrollTo({ top: box.scrollHeight });
    jump.hidden = true;
    focusInput();
  });
  function scroller() {
    var messages = document.querySelectorAll('[data-testid="stChatMessage"]');
    var element = messages.length ? messages[messages.length - 1].parentElement : null;
    while (element && element !== document.body) {
      var overflow = window.getComputedStyle(element).overflowY;
      if ((overflow === "auto" || overflow === "scroll") && element.scrollHeight > element.clientHeight) {
        return element;
      }
      element = element.parentElement;
    }
    return null;
  }
  // A reply is being written: the chat page shows its Stop button; the compare page has none, but its
  // run lasts as long as its columns stream (a rerun after a click is over well within the second).
  var runningSince = 0;
  function writing() {
    var running = !!query('[data-testid="stApp"][data-test-script-state="running"]');
    if (!running) runningSince = 0; else if (!runningSince) runningSince = Date.now();
    if (!query('[data-testid="stChatMessage"]')) return false;
    return !!query('[class*="st-key-stop_"] button') || (running && Date.now() - runningSince > 1000);
  }
  function followScroll() {
    var box = scroller();
    var below = !!box && box.scrollHeight - box.scrollTop - box.clientHeight > JUMP_SLACK;
    var show = below && writing();
    if (jump.hidden === show) jump.hidden = !show;
  }

  var pending = false;
  function onChange() {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () {
      pending = false;
      followInput();
      followScroll();
    });
  }

  var style = document.createElement("style");
  style.id = "chatdeck-keys-style";
  style.textContent = [
    // Visible focus for everything reachable by Tab (Streamlit's own rings are faint or absent on some).
    "button:focus-visible, a:focus-visible, summary:focus-visible, [role=\"button\"]:focus-visible,",
    "[role=\"tab\"]:focus-visible, [role=\"checkbox\"]:focus-visible, [role=\"switch\"]:focus-visible,",
    "[role=\"slider\"]:focus-visible, [role=\"combobox\"]:focus-visible, [tabindex]:focus-visible",
    "{ outline: 2px solid #1a5fd6 !important; outline-offset: 2px !important; }",
    "#chatdeck-jump { position: fixed; left: 50%; bottom: 8.5rem; transform: translateX(-50%); z-index: 1000;",
    "  padding: 0.35rem 0.9rem; border-radius: 1rem; border: 1px solid #c7cbd3; background: #ffffff;",
    "  color: #262730; font: inherit; font-size: 0.9rem; box-shadow: 0 2px 8px rgba(0,0,0,0.15); cursor: pointer; }",
    "#chatdeck-jump[hidden] { display: none; }",
    "#chatdeck-announce { position: fixed; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }",
  ].join("\n");
  document.head.appendChild(style);
  var live = document.createElement("div");
  live.id = "chatdeck-announce";
  live.setAttribute("role", "status");
  live.setAttribute("aria-live", "polite");
  document.body.appendChild(live);
  document.body.appendChild(jump);

  new MutationObserver(onChange).observe(document.body, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["disabled", "data-test-script-state"],
  });
  document.addEventListener("scroll", onChange, { capture: true, passive: true });

  window.chatdeckKeys = {
    update: function (args) { state.lastAnswer = typeof args.last_answer === "string" ? args.last_answer : ""; },
  };
  if (window.chatdeckKeysArgs) window.chatdeckKeys.update(window.chatdeckKeysArgs);
  onChange();
})();
