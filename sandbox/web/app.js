// The sandbox web chat: play Telegram users talking to the real bot through the sandbox.
//
// Plain JavaScript, no build step, nothing loaded from elsewhere. It reads the page's people
// from /sandbox/web/config, long-polls /sandbox/web/events for every chat at once, and acts
// through the driver API under /sandbox/api/ (send text, press a button, vote, upload a file).
// Bot text is Telegram HTML: it is parsed into an inert document and copied node by node
// through a whitelist, so no markup from the bot ever reaches the page as HTML.
"use strict";

(() => {
  const API = "/sandbox/api";
  const WEB = "/sandbox/web";
  const LONG_POLL_SECONDS = 25;
  const LANGUAGE_NAMES = {
    nb: "Norsk bokmål", nn: "Norsk nynorsk", en: "English", pl: "Polski", uk: "Українська",
    lt: "Lietuvių", ar: "العربية", so: "Soomaali", ti: "ትግርኛ",
  };
  const ROLE_NAMES = {
    citizen: "citizen", staff: "staff", moderator: "moderator", coordinator: "coordinator",
  };
  const ROLE_TITLES = { staff: "Staff", moderator: "Moderator", coordinator: "Coordinator" };

  const state = {
    bot: { name: "Medvirk", username: "medvirk_bot" },
    instance: "",
    preview: null,
    personas: [],
    chats: new Map(), // user id -> Chat
    current: null, // the Chat shown
    cursor: 0,
    loaded: false, // the history is in; from now on new bot messages are announced
    poller: null, // AbortController of the running long poll
    commands: [], // what setMyCommands set, per scope and language
  };

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ small helpers

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child);
    }
    return node;
  }

  async function api(method, path, body) {
    const init = { method, headers: {} };
    if (body instanceof FormData) {
      init.body = body;
    } else if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `the sandbox answered ${response.status}`);
    return data;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function fileSize(bytes) {
    if (bytes === undefined) return "";
    if (bytes < 1024) return `${bytes} B`;
    if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  let toastTimer = null;
  function toast(text, { alert = false } = {}) {
    const box = $("toast");
    box.textContent = "";
    box.classList.toggle("alert", alert);
    box.append(el("span", { text }));
    if (alert) {
      const ok = el("button", { type: "button", text: "OK" });
      ok.addEventListener("click", () => { box.textContent = ""; });
      box.append(ok);
    }
    clearTimeout(toastTimer);
    if (!alert) toastTimer = setTimeout(() => { box.textContent = ""; }, 5000);
  }

  function announce(text) {
    // A fresh node per message: screen readers read additions to a polite live region.
    const region = $("announcer");
    region.append(el("p", { text }));
    while (region.childNodes.length > 5) region.firstChild.remove();
  }

  // ------------------------------------------------------------------ Telegram HTML

  const TAGS = {
    B: "strong", STRONG: "strong", I: "em", EM: "em", U: "u", INS: "u",
    S: "s", STRIKE: "s", DEL: "s", CODE: "code", PRE: "pre", BLOCKQUOTE: "blockquote",
  };
  const SAFE_LINK = /^(https?:|mailto:)/i;

  // Copy the whitelisted parts of a parsed tree: text, formatting tags, safe links.
  function copyNodes(from, into) {
    for (const node of from.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        into.append(document.createTextNode(node.data));
      } else if (node.nodeType === Node.ELEMENT_NODE) {
        const tag = node.tagName;
        let target;
        if (tag === "A") {
          const href = node.getAttribute("href") || "";
          target = SAFE_LINK.test(href)
            ? el("a", { href, rel: "noopener noreferrer nofollow", target: "_blank" })
            : el("span");
        } else if (TAGS[tag]) {
          target = el(TAGS[tag]);
        } else if (tag === "TG-SPOILER" || (tag === "SPAN" && node.classList.contains("tg-spoiler"))) {
          target = el("span", { class: "spoiler" });
        } else {
          target = document.createDocumentFragment(); // unknown tag: keep its text only
        }
        copyNodes(node, target);
        into.append(target);
      }
    }
  }

  function formatted(text, parseMode) {
    const box = el("div", { class: "text" });
    if ((parseMode || "").toUpperCase() === "HTML") {
      // DOMParser builds an inert document: no scripts run, no images load.
      const parsed = new DOMParser().parseFromString(`<body>${text}</body>`, "text/html");
      copyNodes(parsed.body, box);
    } else {
      box.textContent = text;
    }
    return box;
  }

  function plain(text, parseMode) {
    return formatted(text || "", parseMode).textContent;
  }

  // ------------------------------------------------------------------ chats

  class Chat {
    constructor(persona) {
      this.persona = persona;
      this.list = el("ol", {
        class: "messages", hidden: true,
        "aria-label": `Chat with ${state.bot.name} as ${persona.name}`,
      });
      this.items = new Map(); // "b:<id>" (bot) or "u:<id>" (user) -> <li>
      this.unread = 0;
      this.empty = true;
      this.handOffFocus = false; // focus was on a button that went away: give it to the next
      this.typingUntil = 0;
      this.list.append(this.emptyNote());
    }

    emptyNote() {
      const preview = state.preview;
      const label = preview ? `Start: ${preview.title}` : "Start";
      const start = el("button", { type: "button", class: "start-button", text: label });
      start.addEventListener("click", () => sendText(this, preview ? preview.start : "/start"));
      return el("li", { class: "empty-note" },
        el("p", { text: `This is the start of your chat with ${state.bot.name}.` }),
        preview
          ? el("p", { text: "Pressing Start opens the consultation as its link in Telegram would." })
          : null,
        start);
    }

    votesKey(pollId) {
      return `medvirk-sandbox:${state.instance}:${this.persona.id}:poll:${pollId}`;
    }

    myVote(pollId) {
      const stored = sessionStorage.getItem(this.votesKey(pollId));
      return stored === null ? null : JSON.parse(stored);
    }

    rememberVote(pollId, options) {
      if (options.length) sessionStorage.setItem(this.votesKey(pollId), JSON.stringify(options));
      else sessionStorage.removeItem(this.votesKey(pollId));
    }
  }

  function personaLabel(persona) {
    const language = LANGUAGE_NAMES[persona.language_code] || persona.language_code || "not set";
    return persona.role === "citizen"
      ? `Citizen · Telegram in ${language} · user ${persona.id}`
      : `${ROLE_TITLES[persona.role] || persona.role} (role granted by the sandbox) · user ${persona.id}`;
  }

  function renderPeople() {
    const list = $("people");
    list.textContent = "";
    for (const persona of state.personas) {
      const roleText = `${ROLE_NAMES[persona.role] || persona.role}${
        persona.role === "citizen" && persona.language_code ? ` · ${persona.language_code}` : ""}`;
      const button = el("button", { type: "button", class: "person", "data-id": persona.id },
        el("span", {
          class: `avatar role-${persona.role}`, "aria-hidden": "true", text: persona.name.slice(0, 1),
        }),
        el("span", { class: "person-text" },
          el("span", { class: "person-name", text: persona.name }),
          el("span", { class: "person-role", text: roleText })),
        el("span", { class: "badge", hidden: true }));
      button.addEventListener("click", () => select(persona.id));
      list.append(el("li", {}, button));
    }
    updatePeople();
  }

  // Marks and badges change in place, so a focused person button keeps its focus.
  function updatePeople() {
    for (const button of $("people").querySelectorAll("button.person")) {
      const chat = state.chats.get(Number(button.dataset.id));
      if (!chat) continue;
      if (state.current === chat) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
      const badge = button.querySelector(".badge");
      badge.hidden = chat.unread === 0;
      badge.textContent = "";
      if (chat.unread) {
        badge.append(String(chat.unread), el("span", {
          class: "sr-only", text: chat.unread === 1 ? " new message" : " new messages",
        }));
      }
    }
  }

  function select(id, { focus = false } = {}) {
    const chat = state.chats.get(id);
    if (!chat) return;
    if (state.current) state.current.list.hidden = true;
    state.current = chat;
    chat.list.hidden = false;
    chat.unread = 0;
    history.replaceState(null, "", `#chat=${id}`);
    $("chat-title").textContent = `${state.bot.name} — you are ${chat.persona.name}`;
    $("chat-subtitle").textContent = personaLabel(chat.persona);
    document.title = `${chat.persona.name} · Medvirk sandbox`;
    closeMenu();
    updatePeople();
    // On a phone the people are a strip that scrolls sideways: keep the one chosen in sight.
    const chosen = $("people").querySelector(`[data-id="${id}"]`);
    if (chosen) chosen.scrollIntoView({ block: "nearest", inline: "nearest" });
    renderCommands();
    showTyping();
    scrollToEnd();
    if (focus) $("composer-text").focus();
  }

  function atEnd() {
    const scroller = $("scroller");
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  function scrollToEnd() {
    const scroller = $("scroller");
    scroller.scrollTop = scroller.scrollHeight;
  }

  // ------------------------------------------------------------------ rendering messages

  function botMessage(chat, message, files) {
    const item = el("li", { class: "message from-bot", tabindex: "-1", "data-message-id": message.message_id });
    item.message = message;
    item.files = files;
    const bubble = el("div", { class: "bubble" }, el("span", { class: "sr-only", text: `${state.bot.name}: ` }));
    if (message.poll) {
      bubble.append(pollBox(chat, item));
    } else {
      if (message.photo && message.photo.length) {
        const size = message.photo.reduce((a, b) => (b.width > a.width ? b : a));
        const url = files[size.file_id];
        const alt = message.caption ? plain(message.caption, message.parse_mode) : `A picture from ${state.bot.name}`;
        bubble.append(el("a", { href: url, target: "_blank", class: "photo-link" },
          el("img", { src: url, alt, width: size.width, height: size.height, class: "photo" })));
      }
      if (message.document) bubble.append(documentLink(message.document, files));
      const text = message.text ?? message.caption;
      if (text) bubble.append(formatted(text, message.parse_mode));
      if (!message.photo && !message.document && !text) {
        bubble.append(el("p", { class: "unsupported", text: "(a message the web chat cannot show)" }));
      }
    }
    bubble.append(meta(message));
    item.append(bubble);
    const rows = message.reply_markup && message.reply_markup.inline_keyboard;
    if (rows && rows.length) item.append(keyboard(chat, message, rows));
    return item;
  }

  function userMessage(message, files) {
    const item = el("li", { class: "message from-user", "data-message-id": message.message_id });
    const bubble = el("div", { class: "bubble" }, el("span", { class: "sr-only", text: "You: " }));
    if (message.document) bubble.append(documentLink(message.document, files));
    if (message.photo) bubble.append(el("p", { class: "attachment", text: "🖼 A picture" }));
    if (message.sticker) bubble.append(el("p", { class: "attachment", text: `${message.sticker.emoji || ""} A sticker` }));
    if (message.voice) bubble.append(el("p", { class: "attachment", text: "🎤 A voice message" }));
    const text = message.text ?? message.caption;
    if (text) bubble.append(formatted(text, null));
    bubble.append(meta(message));
    item.append(bubble);
    return item;
  }

  function meta(message) {
    return el("p", { class: "meta" },
      message.edit_date ? el("span", { class: "edited", text: "edited " }) : null,
      el("time", { datetime: new Date(message.date * 1000).toISOString(), text: clock(message.date) }));
  }

  function documentLink(document_, files) {
    const name = document_.file_name || "file";
    const url = files[document_.file_id];
    return el("a", { class: "document", href: url, download: name },
      el("span", { class: "document-icon", "aria-hidden": "true", text: "📄" }),
      el("span", { class: "document-name", text: name }),
      el("span", { class: "document-size", text: fileSize(document_.file_size) }));
  }

  function keyboard(chat, message, rows) {
    const box = el("div", { class: "keyboard", role: "group", "aria-label": "Buttons" });
    for (const row of rows) {
      const line = el("div", { class: "keyboard-row" });
      for (const button of row) {
        if (button.url) {
          line.append(el("a", {
            class: "inline-button", href: button.url, target: "_blank",
            rel: "noopener noreferrer", text: `${button.text} ↗`,
          }));
        } else if (button.callback_data !== undefined) {
          const node = el("button", { type: "button", class: "inline-button", text: button.text });
          node.addEventListener("click", () => press(chat, message.message_id, button.callback_data, node));
          line.append(node);
        } else {
          line.append(el("button", {
            type: "button", class: "inline-button", disabled: true,
            title: "This kind of button does not work in the sandbox", text: button.text,
          }));
        }
      }
      box.append(line);
    }
    return box;
  }

  function pollBox(chat, item) {
    const message = item.message;
    const poll = message.poll;
    const mine = chat.myVote(poll.id);
    const box = el("div", { class: "poll" });
    const kind = poll.is_closed
      ? "Final results"
      : `${poll.is_anonymous ? "Anonymous poll" : "Poll"}${poll.allows_multiple_answers ? " · choose one or more" : ""}`;
    if (poll.is_closed || mine !== null) {
      const headingId = `poll-${chat.persona.id}-${poll.id}`;
      box.append(el("p", { class: "poll-question", id: headingId, text: poll.question }),
        el("p", { class: "poll-kind", text: kind }));
      const total = poll.total_voter_count;
      const list = el("ul", { class: "poll-results", "aria-labelledby": headingId });
      poll.options.forEach((option, index) => {
        const percent = total ? Math.round((option.voter_count / total) * 100) : 0;
        const chosen = mine !== null && mine.includes(index);
        const bar = el("span", { class: "poll-bar", "aria-hidden": "true" });
        bar.style.width = `${percent}%`;
        list.append(el("li", { class: chosen ? "chosen" : null },
          el("span", { class: "poll-option" },
            el("span", { text: `${chosen ? "✓ " : ""}${option.text}` }),
            el("span", { class: "poll-percent", text: `${percent} %` })),
          bar,
          el("span", {
            class: "sr-only",
            text: `, ${option.voter_count} ${option.voter_count === 1 ? "vote" : "votes"}${chosen ? ", your choice" : ""}`,
          })));
      });
      box.append(list, el("p", { class: "poll-total", text: `${total} ${total === 1 ? "vote" : "votes"}` }));
      if (!poll.is_closed && mine !== null && poll.allows_revoting !== false) {
        const retract = el("button", { type: "button", class: "secondary", text: "Retract vote" });
        retract.addEventListener("click", () => vote(chat, item, []));
        box.append(retract);
      }
      return box;
    }
    const form = el("form", { class: "poll-form" });
    const fieldset = el("fieldset", {}, el("legend", { class: "poll-question", text: poll.question }),
      el("p", { class: "poll-kind", text: kind }));
    const type = poll.allows_multiple_answers ? "checkbox" : "radio";
    poll.options.forEach((option, index) => {
      fieldset.append(el("label", { class: "poll-choice" },
        el("input", { type, name: `poll-${chat.persona.id}-${poll.id}`, value: index }),
        el("span", { text: option.text })));
    });
    form.append(fieldset, el("button", { type: "submit", text: "Vote" }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = [...form.querySelectorAll("input:checked")].map((input) => Number(input.value));
      if (!chosen.length) {
        toast("Choose an option first.");
        return;
      }
      vote(chat, item, chosen);
    });
    box.append(form);
    return box;
  }

  // Where keyboard focus was inside a message, to put it back after the message is redrawn.
  function focusPath(item) {
    const active = document.activeElement;
    if (!item || !active || !item.contains(active)) return null;
    const controls = [...item.querySelectorAll("button, a, input")];
    return { index: controls.indexOf(active) };
  }

  function restoreFocus(chat, item, path) {
    if (!path) return;
    const controls = [...item.querySelectorAll("button:not([disabled]), a, input")];
    const target = controls[path.index];
    if (target) {
      target.focus();
    } else {
      // The button pressed is gone (the question was answered): wait for the next question.
      item.focus();
      chat.handOffFocus = true;
    }
  }

  function handOffFocus(chat, item) {
    if (!chat.handOffFocus || chat !== state.current) return;
    const active = document.activeElement;
    if (active && active !== document.body && !active.classList.contains("message")) {
      chat.handOffFocus = false; // the person moved on by themselves
      return;
    }
    const control = item.querySelector(".keyboard button:not([disabled]), .poll input, .poll button");
    if (control) {
      control.focus();
      chat.handOffFocus = false;
    }
  }

  function place(chat, key, item, { replace }) {
    const old = chat.items.get(key);
    if (chat.empty) {
      chat.list.textContent = "";
      chat.empty = false;
    }
    if (old && replace) {
      const path = focusPath(old);
      old.replaceWith(item);
      chat.items.set(key, item);
      restoreFocus(chat, item, path);
    } else if (!old) {
      chat.list.append(item);
      chat.items.set(key, item);
    }
  }

  // ------------------------------------------------------------------ events

  function apply(event) {
    const chat = state.chats.get(event.chat_id);
    if (!chat) return;
    const message = event.message;
    const files = event.files || {};
    switch (event.kind) {
      case "message": {
        const item = botMessage(chat, message, files);
        place(chat, `b:${message.message_id}`, item, { replace: true });
        chat.typingUntil = 0;
        if (state.loaded) newBotMessage(chat, message, item);
        break;
      }
      case "edit":
      case "poll":
        if (message) {
          const previous = chat.items.get(`b:${message.message_id}`);
          place(chat, `b:${message.message_id}`, botMessage(chat, message, { ...(previous && previous.files), ...files }), { replace: true });
        }
        break;
      case "delete": {
        const key = `${event.data.from_bot ? "b" : "u"}:${event.data.message_id}`;
        const item = chat.items.get(key);
        if (item) {
          if (item.contains(document.activeElement)) $("composer-text").focus();
          item.remove();
          chat.items.delete(key);
        }
        break;
      }
      case "user_message":
      case "user_edit":
        place(chat, `u:${message.message_id}`, userMessage(message, files), { replace: true });
        break;
      case "callback_answer":
        if (state.loaded && chat === state.current && event.data.text) {
          toast(event.data.text, { alert: Boolean(event.data.show_alert) });
        }
        for (const pending of chat.list.querySelectorAll(".inline-button.pending")) {
          pending.classList.remove("pending");
          pending.removeAttribute("aria-busy");
        }
        break;
      case "chat_action":
        if (event.data.action === "typing" || event.data.action === "upload_document" || event.data.action === "upload_photo") {
          chat.typingUntil = Date.now() + 5000;
        }
        break;
      case "member":
        chat.list.append(el("li", {
          class: "system-note",
          text: event.data.status === "kicked" ? "You blocked the bot." : "You unblocked the bot.",
        }));
        break;
      default:
        break; // the user's own presses and votes show as their effect
    }
  }

  function newBotMessage(chat, message, item) {
    if (chat !== state.current) {
      chat.unread += 1;
      return;
    }
    let words;
    if (message.poll) words = `poll: ${message.poll.question}`;
    else if (message.document) words = `file ${message.document.file_name || ""} ${plain(message.caption, message.parse_mode)}`;
    else if (message.photo) words = `picture. ${plain(message.caption, message.parse_mode)}`;
    else words = plain(message.text, message.parse_mode);
    const rows = message.reply_markup && message.reply_markup.inline_keyboard;
    const count = rows ? rows.reduce((sum, row) => sum + row.length, 0) : 0;
    if (count) words += ` (${count} ${count === 1 ? "button" : "buttons"})`;
    announce(`${state.bot.name}: ${words}`);
    handOffFocus(chat, item);
  }

  async function pollEvents() {
    let delay = 250;
    for (;;) {
      const controller = new AbortController();
      state.poller = controller;
      const wait = state.loaded ? LONG_POLL_SECONDS : 0;
      const ids = state.personas.map((persona) => persona.id).join(",");
      try {
        const response = await fetch(`${WEB}/events?chats=${ids}&after=${state.cursor}&wait=${wait}`,
          { signal: controller.signal, cache: "no-store" });
        if (!response.ok) throw new Error(`the sandbox answered ${response.status}`);
        const body = await response.json();
        // Like Telegram: follow new messages when at the end, or when the person just acted.
        const follow = atEnd() || body.events.some((event) => (
          state.current && event.chat_id === state.current.persona.id && !event.from_bot));
        for (const event of body.events) apply(event);
        state.cursor = Math.max(state.cursor, body.cursor);
        connection(true);
        delay = 250;
        if (!state.loaded) {
          state.loaded = true;
          $("loading").remove();
          if (state.current) select(state.current.persona.id);
          document.body.dataset.ready = "true";
        }
        updatePeople();
        showTyping();
        if (follow) scrollToEnd();
      } catch (error) {
        if (controller.signal.aborted) continue; // restarted on purpose (a new person)
        connection(false);
        await sleep(delay);
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  function restartPolling() {
    if (state.poller) state.poller.abort();
  }

  function connection(ok) {
    const note = $("connection");
    note.hidden = ok;
    note.textContent = ok ? "" : "The connection to the sandbox is lost; trying again… (Is `medvirk sandbox` still running?)";
  }

  let typingTimer = null;
  function showTyping() {
    const chat = state.current;
    const note = $("typing");
    const typing = chat && chat.typingUntil > Date.now();
    note.hidden = !typing;
    note.textContent = typing ? `${state.bot.name} is typing…` : "";
    clearTimeout(typingTimer);
    if (typing) typingTimer = setTimeout(showTyping, chat.typingUntil - Date.now() + 50);
  }

  // ------------------------------------------------------------------ acting as the person

  async function sendText(chat, text) {
    try {
      await api("POST", `${API}/users/${chat.persona.id}/text`, { text });
      return true;
    } catch (error) {
      toast(`Not sent: ${error.message}`, { alert: true });
      return false;
    }
  }

  async function press(chat, messageId, data, node) {
    node.classList.add("pending");
    node.setAttribute("aria-busy", "true");
    try {
      await api("POST", `${API}/users/${chat.persona.id}/press`, { callback_data: data, message_id: messageId });
    } catch (error) {
      node.classList.remove("pending");
      node.removeAttribute("aria-busy");
      toast(`The button did not work: ${error.message}`, { alert: true });
    }
  }

  async function vote(chat, item, options) {
    const pollId = item.message.poll.id;
    try {
      await api("POST", `${API}/users/${chat.persona.id}/vote`, { poll_id: pollId, option_ids: options });
    } catch (error) {
      toast(`The vote did not count: ${error.message}`, { alert: true });
      return;
    }
    chat.rememberVote(pollId, options);
    // Redraw at once with the vote marked; the poll update with the counts follows.
    const current = chat.items.get(`b:${item.message.message_id}`) || item;
    const redrawn = botMessage(chat, current.message, current.files);
    const hadFocus = current.contains(document.activeElement);
    current.replaceWith(redrawn);
    chat.items.set(`b:${item.message.message_id}`, redrawn);
    if (hadFocus) {
      const next = redrawn.querySelector(".poll button, .poll input");
      (next || redrawn).focus();
    }
    announce(options.length ? "Your vote is counted." : "Your vote is withdrawn.");
  }

  async function sendFile(chat, file) {
    const form = new FormData();
    form.append("file", file, file.name);
    const kind = /^image\/(png|jpeg|gif|webp)$/.test(file.type) ? "photo" : "document";
    try {
      await api("POST", `${API}/users/${chat.persona.id}/${kind}`, form);
    } catch (error) {
      toast(`The file was not sent: ${error.message}`, { alert: true });
    }
  }

  // ------------------------------------------------------------------ command menu

  // Telegram's order: the chat's own menu, then all private chats, then the default; each in
  // the person's app language first, then for all languages.
  function commandsFor(persona) {
    const scopes = [`chat:${persona.id}`, "all_private_chats", "default"];
    const languages = [persona.language_code || "", ""];
    for (const scope of scopes) {
      for (const language of languages) {
        const found = state.commands.find((entry) => entry.scope === scope && entry.language_code === language);
        if (found) return found.commands;
      }
    }
    return [];
  }

  function renderCommands() {
    const list = $("commands");
    list.textContent = "";
    const chat = state.current;
    if (!chat) return;
    const commands = commandsFor(chat.persona);
    $("menu-button").hidden = commands.length === 0;
    for (const command of commands) {
      const button = el("button", { type: "button", class: "command" },
        el("span", { class: "command-name", text: `/${command.command}` }),
        " ",
        el("span", { class: "command-description", text: command.description }));
      button.addEventListener("click", async () => {
        closeMenu();
        $("composer-text").focus();
        await sendText(chat, `/${command.command}`);
      });
      list.append(el("li", {}, button));
    }
  }

  async function loadCommands() {
    try {
      state.commands = (await api("GET", `${API}/commands`)).commands;
    } catch (error) {
      state.commands = [];
    }
    renderCommands();
  }

  async function openMenu() {
    await loadCommands(); // the bot may have changed them since
    $("command-menu").hidden = false;
    $("menu-button").setAttribute("aria-expanded", "true");
    const first = $("commands").querySelector("button");
    if (first) first.focus();
  }

  function closeMenu({ focusButton = false } = {}) {
    $("command-menu").hidden = true;
    $("menu-button").setAttribute("aria-expanded", "false");
    if (focusButton) $("menu-button").focus();
  }

  // ------------------------------------------------------------------ start

  function addPersona(persona) {
    state.personas.push(persona);
    const chat = new Chat(persona);
    state.chats.set(persona.id, chat);
    $("scroller").append(chat.list);
    return chat;
  }

  function wire() {
    const text = $("composer-text");
    $("composer").addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = text.value.trim();
      if (!value || !state.current) return;
      // Cleared now, not when the send returns: what the person types meanwhile is theirs.
      text.value = "";
      text.style.height = "";
      if (!(await sendText(state.current, value)) && !text.value) {
        text.value = value; // not sent: give it back to edit or send again
      }
    });
    text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        $("composer").requestSubmit();
      }
    });
    text.addEventListener("input", () => {
      text.style.height = "";
      text.style.height = `${Math.min(text.scrollHeight, 160)}px`;
    });
    $("menu-button").addEventListener("click", () => {
      if ($("command-menu").hidden) openMenu();
      else closeMenu({ focusButton: true });
    });
    $("command-menu").addEventListener("keydown", (event) => {
      if (event.key === "Escape") closeMenu({ focusButton: true });
    });
    document.addEventListener("click", (event) => {
      if (!$("command-menu").hidden && !event.target.closest("#command-menu, #menu-button")) closeMenu();
    });
    $("attach-button").addEventListener("click", () => $("attach-input").click());
    $("attach-input").addEventListener("change", async () => {
      const input = $("attach-input");
      const file = input.files && input.files[0];
      if (file && state.current) await sendFile(state.current, file);
      input.value = "";
    });
    $("add-citizen").addEventListener("submit", async (event) => {
      event.preventDefault();
      const name = $("new-name").value.trim();
      if (!name) return;
      const language = $("new-language").value;
      try {
        const user = await api("POST", `${API}/users`, { first_name: name, language_code: language || null });
        addPersona({
          id: user.id, name: user.first_name, language_code: user.language_code || null, role: "citizen",
        });
        renderPeople();
        $("new-name").value = "";
        $("add-citizen-box").open = false;
        select(user.id);
        restartPolling();
        $("people").querySelector(`[data-id="${user.id}"]`).focus();
        announce(`${name} added. You are now ${name}.`);
      } catch (error) {
        toast(`Could not add ${name}: ${error.message}`, { alert: true });
      }
    });
    window.addEventListener("hashchange", () => {
      const id = Number((location.hash.match(/chat=(\d+)/) || [])[1]);
      if (id && state.chats.has(id) && state.chats.get(id) !== state.current) select(id);
    });
  }

  async function main() {
    wire();
    let config;
    for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
      try {
        config = await api("GET", `${WEB}/config`);
        break;
      } catch (error) {
        connection(false);
        await sleep(delay);
      }
    }
    connection(true);
    state.bot = config.bot;
    state.instance = config.instance;
    state.preview = config.preview;
    for (const persona of config.personas) addPersona(persona);
    renderPeople();
    const links = $("page-links");
    for (const link of config.links || []) {
      const anchor = el("a", { href: link.href, text: link.label });
      links.append(el("li", {}, anchor));
      links.hidden = false;
    }
    if (state.preview) {
      const banner = $("preview-banner");
      banner.hidden = false;
      banner.textContent = `Preview of “${state.preview.title}” (${state.preview.slug}), in ${state.preview.languages.map((code) => LANGUAGE_NAMES[code] || code).join(", ")}. `
        + "Answer it as each citizen; nothing is published.";
    }
    const wanted = Number((location.hash.match(/chat=(\d+)/) || [])[1]);
    const first = state.chats.has(wanted) ? wanted : (state.personas[0] && state.personas[0].id);
    if (first) select(first);
    await loadCommands();
    pollEvents();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
