// The staff dashboard's keyboard shortcuts for moderation (a approve, r reject, 1-5 reason,
// f flag, n next, u undo). They act only when no text field has the focus, and can be turned
// off with the checkbox on the page (WCAG 2.1.4); the choice is remembered in this browser.
(function () {
  "use strict";
  const STORE = "medvirk-dashboard-shortcuts";

  function enabled() {
    const box = document.getElementById("shortcuts");
    return box !== null && box.checked;
  }

  function typing(target) {
    if (!(target instanceof HTMLElement)) return false;
    const tag = target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable ||
      (tag === "INPUT" && !["radio", "checkbox", "submit", "button"].includes(target.type));
  }

  function press(key) {
    const review = document.getElementById("review");
    if (review === null) return false;
    const target = review.querySelector(`[data-key="${key}"]`);
    if (target === null) return false;
    if (target instanceof HTMLInputElement && target.type === "radio") {
      target.checked = true;
      if (target.value === "other") {
        document.getElementById("note").focus();
      } else {
        target.form.requestSubmit();
      }
      return true;
    }
    if (key === "r") {
      const first = review.querySelector('#reasons input[type="radio"]');
      if (first !== null) first.focus();
      return true;
    }
    target.click();
    return true;
  }

  document.addEventListener("DOMContentLoaded", function () {
    const box = document.getElementById("shortcuts");
    if (box === null) return;
    box.checked = window.localStorage.getItem(STORE) !== "off";
    box.addEventListener("change", function () {
      window.localStorage.setItem(STORE, box.checked ? "on" : "off");
    });
  });

  document.addEventListener("keydown", function (event) {
    if (!enabled() || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    const key = event.key.toLowerCase();
    if (!/^[arfnu1-5]$/.test(key)) return;
    if (press(key)) event.preventDefault();
  });

  // After htmx swaps in the next text, put the focus on it for keyboard and screen reader users.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "review") {
      const fresh = document.getElementById("review");
      if (fresh !== null) {
        fresh.setAttribute("tabindex", "-1");
        fresh.focus();
      }
    }
  });
})();
