// The web chat's small helpers; the page works without them (every button is a form).
// - Enter sends the message box (Shift+Enter: a new line).
// - After an answer is swapped in, focus goes where the person continues: the same button when
//   its message was redrawn (a ticked option), else the newest question's first button, else
//   the message box; the new messages are scrolled into view.
"use strict";

(function () {
  let pressed = null; // {message, value} of the button that sent the last form

  function focusable(root) {
    return root ? root.querySelector("button:not([disabled]), input:not([type=hidden]):not([disabled]), a.button") : null;
  }

  document.addEventListener("keydown", function (event) {
    const box = event.target;
    if (box && box.id === "composer-text" && event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (box.value.trim() !== "") {
        box.form.requestSubmit();
      }
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    const source = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent;
    const submitter = source && source.submitter;
    const form = event.detail.elt;
    const message = form && form.closest ? form.closest("li.message") : null;
    pressed = submitter && message ? { message: message.id, value: submitter.value } : null;
  });

  document.addEventListener("htmx:afterSettle", function () {
    const active = document.activeElement;
    const lost = !active || active === document.body || !document.body.contains(active) || active.disabled;
    const items = document.querySelectorAll("#messages > li.message");
    if (items.length) {
      items[items.length - 1].scrollIntoView({ block: "nearest" });
    }
    if (!lost) {
      return;
    }
    if (pressed) {
      const again = document.getElementById(pressed.message);
      const same = again ? again.querySelector('button[value="' + CSS.escape(pressed.value) + '"]') : null;
      pressed = null;
      if (same && !same.disabled) {
        same.focus();
        return;
      }
    }
    for (let i = items.length - 1; i >= 0 && i >= items.length - 4; i--) {
      const target = focusable(items[i]);
      if (target) {
        target.focus();
        return;
      }
    }
    const box = document.getElementById("composer-text");
    if (box) {
      box.focus();
    }
  });
})();
