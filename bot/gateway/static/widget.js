/*
 * Engage Wellness admissions chat widget.
 * Plain ES2019, no dependencies, no build step. Talks only to its gateway
 * (docs/chat-protocol.md). Everything lives in one shadow root on
 * <div id="ew-chat-host">. Message text is never parsed as HTML.
 * Its words are not in this file: the gateway serves it with them (from data/knowledge.yml) and
 * with the longest message it takes (from settings), and sends both again in `welcome`.
 */
(function () {
  "use strict";

  if (window.EngageChat && window.EngageChat.__engage) return;

  var script = document.currentScript || (function () {
    var all = document.querySelectorAll("script[src*='widget.js']");
    return all.length ? all[all.length - 1] : null;
  })();

  /* ---------- configuration ---------- */

  var KEY_CONVERSATION = "ew-chat-conversation";
  var KEY_OUTBOX = "ew-chat-outbox";
  /* The counter shows from this share of the message limit. */
  var COUNTER_FROM_SHARE = 0.9;
  var PING_MS = 25000;
  var PONG_WAIT_MS = 10000;
  var MAX_BACKOFF_MS = 30000;
  var TYPING_MAX_MS = 60000;
  var DEFAULT_PRIMARY = "#0b5c63"; /* 7.7:1 against white */
  var INK_FALLBACK = "#1f2933";

  /* Replaced by the gateway when it serves this file (bot/gateway/visitor/texts.py):
     {"texts": {message id: text}, "max_message_chars": n}. Keep this line as it is. */
  var SERVED = {};

  var TEXT = {};   /* message id -> the words to show */
  var maxLen = 0;  /* the gateway's limit; 0 until known (the gateway still refuses a longer message) */

  /* Texts and the limit from SERVED or a `welcome` frame; anything malformed is ignored. */
  function learn(source) {
    if (!source || typeof source !== "object") return;
    var texts = source.texts;
    if (texts && typeof texts === "object") {
      Object.keys(texts).forEach(function (key) {
        if (typeof texts[key] === "string") TEXT[key] = texts[key];
      });
    }
    var limit = Number(source.max_message_chars);
    if (isFinite(limit) && limit >= 1 && Math.floor(limit) === limit) maxLen = limit;
  }

  function t(key) {
    return Object.prototype.hasOwnProperty.call(TEXT, key) ? TEXT[key] : "";
  }

  learn(SERVED);

  function attr(name, fallback) {
    var value = script ? script.getAttribute(name) : null;
    return value == null ? fallback : value;
  }

  var scriptOrigin = location.origin;
  try {
    if (script && script.src) scriptOrigin = new URL(script.src, location.href).origin;
  } catch (e) { /* keep page origin */ }

  var config = {
    gateway: String(attr("data-gateway", "")).trim(),
    title: String(attr("data-title", "") || "").trim(),
    primary: String(attr("data-primary-color", "") || "").trim(),
    position: attr("data-position", "right") === "left" ? "left" : "right",
    openOnLoad: attr("data-open", "false") === "true",
    privacyUrl: safePageUrl(attr("data-privacy-url", "") || "/privacy")
  };

  function safePageUrl(value) {
    try {
      var u = new URL(value, location.href);
      if (u.protocol === "https:" || u.protocol === "http:") return u.href;
    } catch (e) { /* fall through */ }
    return "/privacy";
  }

  /* ws(s)://<gateway>/ws; null when the gateway cannot be reached (e.g. file://). */
  function socketUrl() {
    var base;
    try {
      base = new URL(config.gateway || scriptOrigin, location.href);
    } catch (e) {
      return null;
    }
    var scheme = base.protocol === "https:" || base.protocol === "wss:" ? "wss:"
      : base.protocol === "http:" || base.protocol === "ws:" ? "ws:" : null;
    if (!scheme || !base.host) return null;
    return scheme + "//" + base.host + base.pathname.replace(/\/+$/, "") + "/ws";
  }

  /* ---------- storage (localStorage, or memory when it is unavailable) ---------- */

  var memory = {};
  var store = {
    get: function (key) {
      if (Object.prototype.hasOwnProperty.call(memory, key)) return memory[key];
      try { return window.localStorage.getItem(key); } catch (e) { return null; }
    },
    set: function (key, value) {
      try { window.localStorage.setItem(key, value); delete memory[key]; } catch (e) { memory[key] = value; }
    },
    remove: function (key) {
      delete memory[key];
      try { window.localStorage.removeItem(key); } catch (e) { /* ignore */ }
    }
  };

  function loadOutbox() {
    try {
      var list = JSON.parse(store.get(KEY_OUTBOX) || "[]");
      if (!Array.isArray(list)) return [];
      return list.filter(function (item) {
        return item && typeof item.client_id === "string" && typeof item.text === "string";
      });
    } catch (e) {
      return [];
    }
  }

  function saveOutbox(list) {
    if (list.length) store.set(KEY_OUTBOX, JSON.stringify(list));
    else store.remove(KEY_OUTBOX);
  }

  function outboxAdd(item) {
    var list = loadOutbox();
    if (!list.some(function (x) { return x.client_id === item.client_id; })) list.push(item);
    saveOutbox(list);
  }

  function outboxRemove(clientId) {
    var list = loadOutbox();
    var kept = list.filter(function (x) { return x.client_id !== clientId; });
    if (kept.length !== list.length) saveOutbox(kept);
  }

  function outboxGet(clientId) {
    return loadOutbox().filter(function (x) { return x.client_id === clientId; })[0] || null;
  }

  function newClientId() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") {
      try { return "c-" + c.randomUUID(); } catch (e) { /* insecure context */ }
    }
    var hex = "";
    if (c && typeof c.getRandomValues === "function") {
      var bytes = new Uint8Array(16);
      c.getRandomValues(bytes);
      for (var i = 0; i < bytes.length; i++) hex += (bytes[i] + 256).toString(16).slice(1);
    } else {
      for (var j = 0; j < 32; j++) hex += Math.floor(Math.random() * 16).toString(16);
    }
    return "c-" + hex + "-" + Date.now().toString(36);
  }

  /* ---------- DOM helpers ---------- */

  function h(tag, props, children) {
    var el = document.createElement(tag);
    if (props) {
      Object.keys(props).forEach(function (key) {
        var value = props[key];
        if (value == null || value === false) return;
        if (key === "text") el.textContent = value;
        else if (key === "class") el.className = value;
        else if (typeof value === "function") el.addEventListener(key, value);
        else el.setAttribute(key, value === true ? "" : String(value));
      });
    }
    (children || []).forEach(function (child) {
      if (child == null) return;
      el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return el;
  }

  function icon(paths) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    paths.forEach(function (d) {
      var p = document.createElementNS(ns, "path");
      p.setAttribute("d", d);
      svg.appendChild(p);
    });
    return svg;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function toDate(ts) {
    var n = Number(ts);
    var d = new Date(isFinite(n) && n > 0 ? n * 1000 : Date.now());
    return isNaN(d.getTime()) ? new Date() : d;
  }

  function timeEl(ts) {
    var d = toDate(ts);
    return h("time", { class: "ew-time", datetime: d.toISOString(), text: pad(d.getHours()) + ":" + pad(d.getMinutes()) });
  }

  /* ---------- safe markdown-lite: paragraphs, line breaks, **bold**, https links ---------- */

  var BOLD = "\\*\\*(?<b>(?=\\S)[^\\n]*?\\S)\\*\\*";
  var MD_LINK = "\\[(?<lt>[^\\[\\]\\n]+)\\]\\((?<lu>https:\\/\\/[^\\s()<>]+(?:\\([^\\s()<>]*\\)[^\\s()<>]*)*)\\)";
  var BARE = "(?<u>\\bhttps:\\/\\/[^\\s<>\"'`]+)";

  function makeLink(url, label) {
    var parsed;
    try { parsed = new URL(url); } catch (e) { return null; }
    if (parsed.protocol !== "https:") return null;
    return h("a", {
      href: parsed.href, target: "_blank", rel: "noopener noreferrer",
      "aria-describedby": "ew-newtab", text: label
    });
  }

  function count(str, ch) { return str.split(ch).length - 1; }

  function trimUrl(url) {
    for (;;) {
      var last = url.slice(-1);
      if (".,;:!?'\"*".indexOf(last) >= 0) url = url.slice(0, -1);
      else if (last === ")" && count(url, "(") < count(url, ")")) url = url.slice(0, -1);
      else if (last === "]" && count(url, "[") < count(url, "]")) url = url.slice(0, -1);
      else return url;
    }
  }

  function renderInline(str, parent, allowBold) {
    var re = new RegExp((allowBold ? BOLD + "|" : "") + MD_LINK + "|" + BARE, "gi");
    var last = 0;
    var m;
    var text = function (s) { if (s) parent.appendChild(document.createTextNode(s)); };
    while ((m = re.exec(str)) !== null) {
      var g = m.groups;
      text(str.slice(last, m.index));
      if (g.b !== undefined) {
        var strong = h("strong");
        renderInline(g.b, strong, false);
        parent.appendChild(strong);
        last = re.lastIndex;
      } else if (g.lt !== undefined) {
        var mdLink = makeLink(g.lu, g.lt);
        if (mdLink) parent.appendChild(mdLink); else text(m[0]);
        last = re.lastIndex;
      } else {
        var url = trimUrl(g.u);
        var bare = url.length > "https://".length ? makeLink(url, url) : null;
        if (bare) parent.appendChild(bare); else text(url);
        last = m.index + url.length;
        re.lastIndex = last;
      }
    }
    text(str.slice(last));
  }

  function renderRich(text, parent) {
    var paragraphs = String(text == null ? "" : text).replace(/\r\n?/g, "\n").split(/\n[ \t]*\n/);
    paragraphs.forEach(function (para) {
      var body = para.replace(/^\n+|\n+$/g, "");
      if (!body.trim()) return;
      var p = h("p");
      body.split("\n").forEach(function (line, i) {
        if (i) p.appendChild(h("br"));
        renderInline(line, p, true);
      });
      parent.appendChild(p);
    });
  }

  /* ---------- styles ---------- */

  var STYLES = [
    ":host { all: initial !important; }",
    ".ew, .ew * , .ew *::before, .ew *::after { box-sizing: border-box; }",
    ".ew { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif;",
    "  font-size: 15px; line-height: 1.45; color: #1f2933; color-scheme: light; -webkit-text-size-adjust: 100%; }",
    /* element selectors only (lowest specificity), so the class rules below always win */
    "button, textarea { font: inherit; color: inherit; margin: 0; letter-spacing: normal; text-transform: none; }",
    "button { cursor: pointer; border: 1px solid transparent; }",
    ".ew [hidden] { display: none !important; }",
    ".sr-only { position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px; overflow: hidden;",
    "  clip: rect(0 0 0 0); white-space: nowrap; border: 0; }",
    ".ew :focus { outline: none; }",
    ".ew :focus-visible { outline: 2px solid transparent; box-shadow: 0 0 0 2px #fff, 0 0 0 5px #1f2933; }",
    ".ew textarea:focus-visible, .ew textarea:focus { box-shadow: 0 0 0 2px #fff, 0 0 0 4px var(--ew-ink); border-color: var(--ew-ink); }",
    ".launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 60px; height: 60px;",
    "  border-radius: 50%; background: var(--ew-primary); color: var(--ew-on-primary); padding: 0;",
    "  display: flex; align-items: center; justify-content: center; box-shadow: 0 4px 14px rgba(0,0,0,.28); }",
    ".launcher svg { width: 28px; height: 28px; fill: currentColor; }",
    ".launcher .badge { position: absolute; top: 4px; right: 4px; width: 14px; height: 14px; border-radius: 50%;",
    "  background: #b3261e; border: 2px solid #fff; }",
    ".ew.left .launcher { right: auto; left: 20px; }",
    ".panel { position: fixed; right: 20px; bottom: 92px; z-index: 2147483001; width: 380px; max-width: calc(100vw - 40px);",
    "  height: 600px; max-height: calc(100vh - 112px); display: flex; flex-direction: column; background: #fff;",
    "  border-radius: 12px; overflow: hidden; box-shadow: 0 10px 40px rgba(0,0,0,.3); border: 1px solid #c9d3d6; }",
    ".ew.left .panel { right: auto; left: 20px; }",
    ".header { display: flex; align-items: center; gap: 6px; padding: 10px 6px 10px 14px;",
    "  background: var(--ew-primary); color: var(--ew-on-primary); }",
    ".title { flex: 1 1 auto; min-width: 0; overflow-wrap: anywhere; margin: 0; font-size: 16px; font-weight: 700; line-height: 1.25; color: inherit; }",
    ".human { background: transparent; color: inherit; border-color: currentColor; border-radius: 999px;",
    "  padding: 5px 10px; font-size: 13px; font-weight: 600; white-space: nowrap; flex: 0 0 auto; }",
    ".human:hover { background: rgba(255,255,255,.14); }",
    ".close { flex: 0 0 auto; background: transparent; color: inherit; width: 36px; height: 36px; padding: 6px; border-radius: 8px;",
    "  display: flex; align-items: center; justify-content: center; }",
    ".close svg { width: 22px; height: 22px; fill: currentColor; }",
    ".notices { background: #eef3f4; border-bottom: 1px solid #d5dde0; padding: 7px 16px; font-size: 13px; line-height: 1.35; }",
    ".notices p { margin: 0; }",
    ".disclosure { font-weight: 700; }",
    ".ew a { color: var(--ew-ink); text-decoration: underline; text-underline-offset: 2px; border-radius: 2px; }",
    ".status { background: #fff4d6; color: #5c4400; font-size: 13px; font-weight: 600; text-align: center;",
    "  padding: 5px 12px; border-bottom: 1px solid #e6d39a; }",
    ".status:empty { padding: 0; border: 0; height: 0; overflow: hidden; }",
    ".log { position: relative; flex: 1 1 auto; min-height: 0; overflow-y: auto; overscroll-behavior: contain; padding: 14px 12px 6px; background: #f4f7f8;",
    "  display: flex; flex-direction: column; gap: 10px; }",
    ".log:empty::before { content: attr(data-empty); color: #4a5560;",
    "  font-size: 14px; text-align: center; margin: auto 12px; }",
    ".row { display: flex; flex-direction: column; max-width: 88%; }",
    ".row.bot { align-self: flex-start; }",
    ".row.visitor { align-self: flex-end; align-items: flex-end; }",
    ".bubble { padding: 8px 12px; border-radius: 14px; overflow-wrap: anywhere; word-break: break-word; }",
    ".bot .bubble { background: #fff; color: #1f2933; border: 1px solid #d5dde0; border-bottom-left-radius: 4px; }",
    ".visitor .bubble { background: var(--ew-primary); color: var(--ew-on-primary); white-space: pre-wrap; border-bottom-right-radius: 4px; }",
    ".visitor[data-state='failed'] .bubble { background: #fff; color: #1f2933; border: 1px dashed #b3261e; }",
    ".bubble p { margin: 0; }",
    ".bubble p + p { margin-top: .6em; }",
    ".who { font-size: 12px; font-weight: 700; color: #4a5560; margin: 0 4px 2px; }",
    ".meta { font-size: 12px; color: #4a5560; margin: 3px 4px 0; }",
    ".visitor .meta { text-align: right; }",
    ".rate { display: flex; align-items: center; gap: 4px; margin: 2px 4px 0; font-size: 12px; color: #4a5560; }",
    ".rate button { background: none; border: 1px solid transparent; border-radius: 6px; padding: 2px 4px; cursor: pointer; color: #4a5560; line-height: 0; }",
    ".rate button:hover, .rate button:focus-visible { border-color: #8a99a3; }",
    ".rate button[aria-pressed='true'] { color: #0b5d6b; border-color: #0b5d6b; background: #e6f2f4; }",
    ".rate button svg { width: 16px; height: 16px; fill: currentColor; }",
    ".rate .down svg { transform: rotate(180deg); }",
    ".visitor[data-state='failed'] .meta { color: #a1231b; font-weight: 600; }",
    ".qr { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 8px; }",
    ".qr-btn { background: #fff; color: var(--ew-ink); border-color: var(--ew-ink); border-radius: 999px;",
    "  padding: 5px 12px; font-size: 14px; text-align: left; }",
    ".qr-btn:hover { background: #e6eff0; }",
    ".qr-btn:disabled { cursor: default; background: #eef1f2; color: #4a5560; border-color: #aab5ba; }",
    ".urgent { border-left: 6px solid #b3261e; background: #fdecea; border-radius: 6px; padding: 10px 10px 10px 12px;",
    "  display: flex; flex-direction: column; gap: 8px; }",
    ".urgent .row { max-width: 100%; }",
    ".urgent-title { margin: 0; color: #7a1f12; font-weight: 800; font-size: 15.5px; }",
    ".urgent .bot .bubble { border-color: #e3a59f; }",
    ".notice { align-self: center; max-width: 94%; font-size: 13px; color: #4a5560; text-align: center; padding: 2px 8px; }",
    ".notice.alert { align-self: stretch; max-width: none; text-align: left; font-size: 14px; color: #5c4400; background: #fff4d6;",
    "  border: 1px solid #c9a227; border-left: 6px solid #8a6d00; border-radius: 6px; padding: 8px 12px; font-weight: 600; }",
    ".typing { display: flex; align-items: center; gap: 8px; padding: 4px 16px 6px; background: #f4f7f8; color: #4a5560; font-size: 13px; }",
    ".dots { display: inline-flex; gap: 4px; padding: 8px 10px; background: #fff; border: 1px solid #d5dde0; border-radius: 12px; }",
    ".dots i { width: 7px; height: 7px; border-radius: 50%; background: #4a5560; display: block; }",
    ".compose { display: flex; align-items: flex-end; gap: 8px; padding: 10px 12px; border-top: 1px solid #d5dde0; background: #fff; }",
    ".field { flex: 1 1 auto; display: flex; flex-direction: column; min-width: 0; }",
    ".input { width: 100%; min-height: 42px; max-height: 140px; resize: none; border: 1px solid #7b8890; border-radius: 10px;",
    "  padding: 9px 11px; font-size: 16px; line-height: 1.35; background: #fff; color: #1f2933; }",
    ".input::placeholder { color: #5b6670; opacity: 1; }",
    ".counter { font-size: 12px; color: #4a5560; margin-top: 3px; text-align: right; }",
    ".counter.warn { color: #a1231b; font-weight: 700; }",
    ".send { flex: 0 0 auto; height: 42px; padding: 0 16px; border-radius: 10px; background: var(--ew-primary);",
    "  color: var(--ew-on-primary); font-weight: 700; }",
    "@media (max-width: 479.98px) {",
    "  .panel, .ew.left .panel { top: 0; right: 0; bottom: 0; left: 0; width: 100%; max-width: none; height: auto;",
    "    max-height: none; border-radius: 0; border: 0; }",
    "  .ew.open .launcher { display: none; }",
    "  .row { max-width: 94%; }",
    "}",
    "@media (prefers-reduced-motion: no-preference) {",
    "  .ew.open .panel { animation: ew-in .18s ease-out; }",
    "  .dots i { animation: ew-blink 1.2s infinite ease-in-out; }",
    "  .dots i:nth-child(2) { animation-delay: .2s; }",
    "  .dots i:nth-child(3) { animation-delay: .4s; }",
    "  .launcher { transition: transform .15s ease-out; }",
    "  .launcher:hover { transform: scale(1.05); }",
    "}",
    "@keyframes ew-in { from { opacity: 0; transform: translateY(12px); } to { opacity: 1; transform: none; } }",
    "@keyframes ew-blink { 0%, 80%, 100% { opacity: .3; } 40% { opacity: 1; } }",
    "@media (forced-colors: active) { .bubble, .urgent, .notice.alert, .dots { border: 1px solid CanvasText; } }"
  ].join("\n");

  /* ---------- colours: keep text at 4.5:1 or better whatever primary colour is configured ---------- */

  function luminance(rgb) {
    var c = rgb.map(function (v) {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  }

  function contrast(a, b) {
    var x = luminance(a), y = luminance(b);
    return (Math.max(x, y) + 0.05) / (Math.min(x, y) + 0.05);
  }

  function resolveColor(value, probe) {
    if (!value || !(window.CSS && window.CSS.supports && window.CSS.supports("color", value))) return null;
    probe.style.color = value;
    var m = /rgba?\(\s*([\d.]+)[,\s]+([\d.]+)[,\s]+([\d.]+)(?:\s*[,/]\s*([\d.]+%?))?/.exec(getComputedStyle(probe).color);
    probe.style.color = "";
    if (!m) return null;
    if (m[4] !== undefined && parseFloat(m[4]) < (m[4].slice(-1) === "%" ? 100 : 1)) return null;
    return [Number(m[1]), Number(m[2]), Number(m[3])];
  }

  function applyTheme(root, probe) {
    var rgb = resolveColor(config.primary, probe);
    var primary = rgb ? "rgb(" + rgb.join(",") + ")" : DEFAULT_PRIMARY;
    if (!rgb) rgb = [11, 92, 99];
    var white = [255, 255, 255];
    var dark = [17, 24, 28];
    var onPrimary = contrast(rgb, white) >= contrast(rgb, dark) ? "#fff" : "#11181c";
    /* links and outline buttons sit on white and on #eef3f4 */
    var ink = contrast(rgb, [238, 243, 244]) >= 4.5 ? primary : INK_FALLBACK;
    root.style.setProperty("--ew-primary", primary);
    root.style.setProperty("--ew-on-primary", onPrimary);
    root.style.setProperty("--ew-ink", ink);
  }

  /* ---------- widget ---------- */

  var ui = {};
  var ws = null;
  var ready = false;          /* welcome received on the current socket */
  var attempt = 0;            /* failed connection attempts since the last welcome */
  var retryTimer = 0;
  var pingTimer = 0;
  var pongTimer = 0;
  var typingTimer = 0;
  var isOpen = false;
  var sentOnSocket = {};      /* client_id -> true: sent on the current socket */
  var rows = {};              /* client_id -> visitor row element */
  var answered = {};          /* reply_to -> true: a bot answer for it is on screen */
  var ratingBars = {};        /* reply_to -> the thumbs under its answer */
  var lastVisitorId = null;

  function build() {
    var host = document.getElementById("ew-chat-host");
    if (!host) {
      host = document.createElement("div");
      host.id = "ew-chat-host";
      document.body.appendChild(host);
    }
    if (host.shadowRoot) return false;
    var shadow = host.attachShadow({ mode: "open" });
    shadow.appendChild(h("style", { text: STYLES }));

    var root = h("div", { class: "ew " + config.position, "data-testid": "root" });
    shadow.appendChild(root);
    ui.shadow = shadow;
    ui.root = root;
    applyTheme(root, root);

    ui.badge = h("span", { class: "badge", hidden: true, "aria-hidden": "true" });
    ui.launcher = h("button", {
      type: "button", class: "launcher", "data-testid": "launcher",
      "aria-expanded": "false", "aria-controls": "ew-panel", click: function () { if (isOpen) close(true); else open(true); }
    }, [icon(["M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01zm5 0a1.5 1.5 0 1 0 0 .01z"]), ui.badge]);

    ui.title = h("h2", { class: "title", id: "ew-title" });
    ui.human = h("button", {
      type: "button", class: "human", "data-testid": "human-button",
      click: function () { submit("/request_human", t("talk_to_person_button")); }
    });
    ui.close = h("button", {
      type: "button", class: "close", "data-testid": "close",
      click: function () { close(true); }
    }, [icon(["M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 0 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 0 0 0-1.4z"])]);

    ui.privacy = h("a", {
      href: config.privacyUrl, target: "_blank", rel: "noopener noreferrer",
      "data-testid": "privacy-link", "aria-describedby": "ew-newtab"
    });
    ui.disclosure = h("p", { class: "disclosure", "data-testid": "disclosure" });
    ui.privacyNote = h("span");
    var notices = h("div", { class: "notices" }, [
      ui.disclosure,
      h("p", { class: "privacy", "data-testid": "privacy" }, [ui.privacyNote, " ", ui.privacy])
    ]);

    ui.status = h("div", { class: "status", role: "status", "data-testid": "status" });
    ui.log = h("div", {
      class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
      tabindex: "0", "data-testid": "log"
    });
    ui.typingText = h("span");
    ui.typing = h("div", {
      class: "typing", role: "status", "data-testid": "typing", hidden: true
    }, [
      h("span", { class: "dots", "aria-hidden": "true" }, [h("i"), h("i"), h("i")]),
      ui.typingText
    ]);

    ui.input = h("textarea", {
      id: "ew-input", class: "input", "data-testid": "input", rows: "1", "aria-describedby": "ew-counter",
      autocomplete: "off", enterkeyhint: "send"
    });
    ui.counter = h("div", { id: "ew-counter", class: "counter", "data-testid": "counter", hidden: true });
    ui.send = h("button", { type: "submit", class: "send", "data-testid": "send" });
    var form = h("form", { class: "compose", novalidate: true }, [
      h("div", { class: "field" }, [ui.input, ui.counter]), ui.send
    ]);
    ui.form = form;
    form.addEventListener("submit", function (ev) { ev.preventDefault(); submitInput(); });
    ui.input.addEventListener("keydown", function (ev) {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        submitInput();
      }
    });
    ui.input.addEventListener("input", onInput);

    ui.panel = h("div", {
      id: "ew-panel", class: "panel", role: "dialog", "aria-modal": "false", "aria-labelledby": "ew-title",
      "data-testid": "panel", hidden: true
    }, [
      h("div", { class: "header" }, [ui.title, ui.human, ui.close]),
      notices, ui.status, ui.log, ui.typing, form,
      ui.newTab = h("span", { id: "ew-newtab", class: "sr-only" })
    ]);
    ui.panel.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" || ev.key === "Esc") {
        ev.preventDefault();
        ev.stopPropagation();
        close(true);
      }
    });

    root.appendChild(ui.launcher);
    root.appendChild(ui.panel);
    applyTexts();
    return true;
  }

  /* The words on the widget's own controls, and the limit: at start, and after each welcome. */
  function applyTexts() {
    ui.launcher.setAttribute("aria-label", t("widget_open_chat"));
    ui.title.textContent = config.title || t("widget_title");
    ui.human.textContent = t("talk_to_person_button");
    ui.close.setAttribute("aria-label", t("widget_close_chat"));
    ui.disclosure.textContent = t("widget_disclosure");
    ui.privacyNote.textContent = t("widget_privacy_note");
    ui.privacy.textContent = t("widget_privacy_link");
    ui.newTab.textContent = t("widget_new_tab");
    ui.log.setAttribute("aria-label", t("widget_log_label"));
    ui.log.setAttribute("data-empty", t("widget_empty_log"));
    ui.typing.setAttribute("aria-label", t("widget_typing"));
    ui.typingText.textContent = t("widget_typing");
    ui.input.setAttribute("placeholder", t("widget_input_placeholder"));
    ui.input.setAttribute("aria-label", t("widget_input_label"));
    ui.send.textContent = t("widget_send");
    ui.form.setAttribute("aria-label", t("widget_send_form_label"));
    if (maxLen) ui.input.setAttribute("maxlength", String(maxLen));
    else ui.input.removeAttribute("maxlength");
    onInput();
    status();
  }

  /* ---------- panel ---------- */

  function open(focusInput) {
    if (!isOpen) {
      isOpen = true;
      ui.panel.hidden = false;
      ui.root.classList.add("open");
      ui.launcher.setAttribute("aria-expanded", "true");
      ui.badge.hidden = true;
      scrollToBottom(true);
      if (!ws && !ready) connectSoon();
    }
    if (focusInput !== false) ui.input.focus();
  }

  function close(returnFocus) {
    if (!isOpen) return;
    var focusInside = ui.panel.contains(ui.shadow.activeElement);
    isOpen = false;
    ui.panel.hidden = true;
    ui.root.classList.remove("open");
    ui.launcher.setAttribute("aria-expanded", "false");
    if (returnFocus || focusInside) ui.launcher.focus();
  }

  function onInput() {
    var len = ui.input.value.length;
    if (maxLen && len >= Math.floor(maxLen * COUNTER_FROM_SHARE)) {
      ui.counter.hidden = false;
      ui.counter.textContent = len + " / " + maxLen;
      ui.counter.classList.toggle("warn", len >= maxLen - 50);
    } else {
      ui.counter.hidden = true;
      ui.counter.textContent = "";
    }
    ui.input.style.height = "auto";
    ui.input.style.height = Math.min(ui.input.scrollHeight + 2, 140) + "px";
  }

  function submitInput() {
    var text = ui.input.value.trim();
    if (!text) return;
    if (submit(text, null)) {
      ui.input.value = "";
      onInput();
    }
  }

  function nearBottom() {
    var log = ui.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  }

  function scrollToBottom(force) {
    if (force || nearBottom()) ui.log.scrollTop = ui.log.scrollHeight;
  }

  function status() {
    ui.status.textContent = ready ? "" : attempt > 0 ? t("widget_reconnecting") : t("widget_connecting");
    ui.root.classList.toggle("offline", !ready);
  }

  function setTyping(on) {
    clearTimeout(typingTimer);
    ui.typing.hidden = !on;
    if (on) typingTimer = setTimeout(function () { ui.typing.hidden = true; }, TYPING_MAX_MS);
  }

  /* ---------- transcript ---------- */

  /* A pending visitor line's state -> the message naming it ("sent" shows nothing). */
  var STATE_TEXT = {
    sending: "widget_state_sending",
    queued: "widget_state_queued",
    waiting: "widget_state_waiting",
    failed: "widget_state_failed"
  };

  function setRowState(clientId, state) {
    var row = rows[clientId];
    if (!row) return;
    row.setAttribute("data-state", state);
    if (state === "sent") row.removeAttribute("data-pending"); else row.setAttribute("data-pending", "true");
    var label = STATE_TEXT[state] ? t(STATE_TEXT[state]) : "";
    row.querySelector(".ew-state").textContent = label ? " \u00b7 " + label : "";
  }

  function addVisitorRow(text, ts, clientId, state) {
    if (clientId && rows[clientId]) {
      if (state === "sent") setRowState(clientId, "sent");
      return rows[clientId];
    }
    disableQuickReplies();
    var row = h("div", { class: "row visitor", "data-testid": "message", "data-role": "visitor" }, [
      h("span", { class: "sr-only", text: t("widget_you_said") }),
      h("div", { class: "bubble", "data-testid": "visitor-message", text: String(text == null ? "" : text) }),
      h("div", { class: "meta" }, [timeEl(ts), h("span", { class: "ew-state" })])
    ]);
    if (clientId) {
      row.setAttribute("data-client-id", clientId);
      rows[clientId] = row;
      lastVisitorId = clientId;
    }
    ui.log.appendChild(row);
    if (clientId) setRowState(clientId, state || "sent");
    scrollToBottom(true);
    return row;
  }

  function quickReplies(buttons) {
    var group = h("div", {
      class: "qr", role: "group", "aria-label": t("widget_suggested_replies"), "data-testid": "quick-replies"
    });
    buttons.forEach(function (b) {
      if (!b || typeof b !== "object") return;
      var title = String(b.title || b.payload || "").trim();
      var payload = String(b.payload || b.title || "");
      if (!title || !payload) return;
      group.appendChild(h("button", {
        type: "button", class: "qr-btn", "data-testid": "quick-reply", "data-payload": payload, text: title,
        click: function (ev) {
          if (group.getAttribute("data-used")) return;
          var hadFocus = ev.currentTarget === ui.shadow.activeElement;
          submit(payload, title);
          if (hadFocus) ui.input.focus();
        }
      }));
    });
    return group.childNodes.length ? group : null;
  }

  function disableQuickReplies() {
    var groups = ui.log.querySelectorAll(".qr:not([data-used])");
    for (var i = 0; i < groups.length; i++) {
      groups[i].setAttribute("data-used", "true");
      var buttons = groups[i].querySelectorAll("button");
      for (var j = 0; j < buttons.length; j++) buttons[j].disabled = true;
    }
  }

  function isStaff(role) {
    return role === "staff" || role === "agent" || role === "human";
  }

  /* One bot turn: several messages, optionally marked urgent (crisis / emergency). */
  function addBotTurn(messages, ts, urgent, role) {
    var container = ui.log;
    var items = messages.filter(function (m) {
      return m && (typeof m === "string" || m.text || (Array.isArray(m.buttons) && m.buttons.length));
    });
    if (!items.length) return false;
    var stick = nearBottom();
    if (urgent) {
      container = h("div", { class: "urgent", "data-urgent": "true", "data-testid": "urgent" }, [
        h("p", { class: "urgent-title" }, [h("strong", { text: t("widget_urgent_title") })])
      ]);
      ui.log.appendChild(container);
    }
    var firstRow = null;
    items.forEach(function (m) {
      var text = typeof m === "string" ? m : m.text;
      var bubble = h("div", { class: "bubble", "data-testid": "bot-message" });
      renderRich(text, bubble);
      var buttons = m && Array.isArray(m.buttons) ? quickReplies(m.buttons) : null;
      var row = h("div", { class: "row bot", "data-testid": "message", "data-role": isStaff(role) ? "staff" : "bot" }, [
        isStaff(role) ? h("div", { class: "who", text: t("widget_staff_label") })
          : h("span", { class: "sr-only", text: t("widget_assistant_said") }),
        bubble, buttons, h("div", { class: "meta" }, [timeEl(ts)])
      ]);
      if (urgent) {
        row.setAttribute("data-urgent", "true");
        bubble.setAttribute("data-urgent", "true");
      }
      container.appendChild(row);
      firstRow = firstRow || row;
    });
    /* Show the start of the new answer (a long answer is read from its top). */
    var first = urgent ? container : firstRow;
    if ((stick || urgent) && first) ui.log.scrollTop = Math.max(0, first.offsetTop - 12);
    if (!isOpen) ui.badge.hidden = false;
    return true;
  }

  function notice(text, prominent) {
    var el = h("div", {
      class: "notice" + (prominent ? " alert" : ""), "data-testid": "notice", text: text
    });
    ui.log.appendChild(el);
    scrollToBottom(true);
    if (prominent && !isOpen) ui.badge.hidden = false;
  }

  function clearLog() {
    while (ui.log.firstChild) ui.log.removeChild(ui.log.firstChild);
    rows = {};
    answered = {};
    ratingBars = {};
    lastVisitorId = null;
  }

  function renderHistory(history) {
    var turn = null;
    var flush = function () {
      if (turn) addBotTurn(turn.messages, turn.ts, turn.urgent, turn.role);
      turn = null;
    };
    history.forEach(function (entry) {
      if (!entry || typeof entry !== "object") return;
      if (entry.role === "visitor" || entry.role === "user") {
        flush();
        addVisitorRow(entry.display_text || entry.text, entry.ts, entry.client_id || null, "sent");
        if (!entry.client_id) lastVisitorId = null;
        return;
      }
      /* History carries no reply_to for bot lines: they answer the visitor line before them. */
      var replyTo = entry.reply_to || lastVisitorId;
      if (replyTo) answered[replyTo] = true;
      var urgent = entry.urgent === true;
      if (turn && (turn.urgent !== urgent || turn.role !== entry.role)) flush();
      if (!turn) turn = { messages: [], ts: entry.ts, urgent: urgent, role: entry.role };
      turn.messages.push({ text: entry.text, buttons: entry.buttons });
    });
    flush();
  }

  /* Outbox items not yet on screen, as pending visitor lines. */
  function renderOutbox() {
    loadOutbox().forEach(function (item) {
      addVisitorRow(item.display_text || item.text, item.ts, item.client_id, ready ? "sending" : "queued");
    });
  }

  /* ---------- sending ---------- */

  function submit(text, displayText) {
    text = String(text == null ? "" : text);
    if (!text.trim()) return null;
    if (maxLen && text.length > maxLen) {
      notice(t("message_too_long"), false);
      return null;
    }
    var item = { client_id: newClientId(), text: text, ts: Date.now() / 1000 };
    if (displayText) item.display_text = String(displayText);
    outboxAdd(item);
    addVisitorRow(item.display_text || text, item.ts, item.client_id, ready ? "sending" : "queued");
    if (ready) transmit(item);
    else if (!ws) connectSoon();
    return item.client_id;
  }

  function sendFrame(frame) {
    if (!ws || ws.readyState !== 1) return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch (e) {
      return false;
    }
  }

  function transmit(item) {
    if (!ready || sentOnSocket[item.client_id]) return;
    var frame = { type: "message", client_id: item.client_id, text: item.text };
    if (item.display_text) frame.display_text = item.display_text;
    if (sendFrame(frame)) {
      sentOnSocket[item.client_id] = true;
      setRowState(item.client_id, "sending");
    }
  }

  /* Unacknowledged messages, oldest first, each once per socket (the gateway deduplicates by client_id). */
  function flushOutbox() {
    loadOutbox().forEach(transmit);
  }

  /* ---------- connection ---------- */

  function wanted() {
    return isOpen || !!store.get(KEY_CONVERSATION) || loadOutbox().length > 0;
  }

  function connectSoon() {
    if (ws) return;
    clearTimeout(retryTimer);
    retryTimer = 0;
    connect();
  }

  function connect() {
    retryTimer = 0;
    if (ws) return;
    status();
    var url = socketUrl();
    var sock;
    try {
      if (!url || typeof window.WebSocket !== "function") throw new Error("no gateway");
      sock = new WebSocket(url);
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    sock.onopen = function () {
      if (ws !== sock) return;
      sendFrame({ type: "hello", conversation_id: store.get(KEY_CONVERSATION) || null, page_url: location.href });
      clearInterval(pingTimer);
      pingTimer = setInterval(ping, PING_MS);
    };
    sock.onmessage = function (ev) {
      if (ws !== sock) return;
      clearTimeout(pongTimer);
      onFrame(ev.data);
    };
    sock.onclose = function () {
      if (ws === sock) dropped();
    };
    sock.onerror = function () { /* a close event follows */ };
  }

  function ping() {
    if (!sendFrame({ type: "ping" })) return;
    clearTimeout(pongTimer);
    pongTimer = setTimeout(function () { drop(); }, PONG_WAIT_MS);
  }

  /* Give up on the current socket now (silent network, offline) and reconnect. */
  function drop() {
    var sock = ws;
    if (!sock) return;
    dropped();
    try { sock.close(); } catch (e) { /* ignore */ }
  }

  function dropped() {
    ws = null;
    ready = false;
    sentOnSocket = {};
    clearInterval(pingTimer);
    clearTimeout(pongTimer);
    setTyping(false);
    loadOutbox().forEach(function (item) {
      var row = rows[item.client_id];
      if (row && row.getAttribute("data-state") !== "failed") setRowState(item.client_id, "queued");
    });
    scheduleReconnect();
  }

  function scheduleReconnect() {
    clearTimeout(retryTimer);
    attempt += 1;
    var base = Math.min(MAX_BACKOFF_MS, 1000 * Math.pow(2, Math.min(attempt - 1, 10)));
    var delay = Math.min(MAX_BACKOFF_MS, Math.round(base * (0.75 + Math.random() * 0.5)));
    retryTimer = setTimeout(connect, delay);
    status();
  }

  /* ---------- frames from the gateway ---------- */

  function onFrame(data) {
    var frame;
    try { frame = JSON.parse(data); } catch (e) { return; }
    if (!frame || typeof frame !== "object") return;
    switch (frame.type) {
      case "welcome": onWelcome(frame); break;
      case "ack": onAck(frame.client_id); break;
      case "typing": setTyping(frame.on === true); break;
      case "bot": onBot(frame); break;
      case "rated": onRated(frame); break;
      case "visitor": onVisitorEcho(frame); break;
      case "error": onError(frame); break;
      default: break; /* pong and anything newer */
    }
  }

  function onWelcome(frame) {
    var previous = store.get(KEY_CONVERSATION);
    var id = typeof frame.conversation_id === "string" ? frame.conversation_id : "";
    if (id) store.set(KEY_CONVERSATION, id);
    var history = Array.isArray(frame.history) ? frame.history : [];
    ready = true;
    attempt = 0;
    learn(frame);
    applyTexts();

    var inHistory = {};
    history.forEach(function (e) { if (e && e.client_id) inHistory[e.client_id] = true; });
    /* Sent before the connection dropped and already answered: not pending, not resent. */
    loadOutbox().forEach(function (item) { if (inHistory[item.client_id]) outboxRemove(item.client_id); });

    /* A restored conversation with no history (e.g. the assistant could not load it) keeps what is on screen. */
    var keep = frame.restored === true && history.length === 0 && id && id === previous;
    if (!keep) {
      clearLog();
      renderHistory(history);
    }
    renderOutbox();
    flushOutbox();
    scrollToBottom(true);
  }

  function onAck(clientId) {
    if (typeof clientId !== "string") return;
    outboxRemove(clientId);
    setRowState(clientId, "sent");
  }

  function onBot(frame) {
    setTyping(false);
    var replyTo = typeof frame.reply_to === "string" && frame.reply_to ? frame.reply_to : null;
    if (replyTo) {
      if (answered[replyTo]) return; /* a replayed answer */
      onAck(replyTo);
    }
    var messages = Array.isArray(frame.messages) ? frame.messages
      : typeof frame.text === "string" ? [{ text: frame.text, buttons: frame.buttons }] : [];
    var role = frame.role || frame.sender;
    /* Messages may carry their own `urgent` flag: only those stand out, not the whole turn. */
    var perMessage = messages.some(function (m) { return m && typeof m.urgent === "boolean"; });
    var groups = [];
    messages.forEach(function (m) {
      var urgent = perMessage ? m.urgent === true : frame.urgent === true;
      var last = groups[groups.length - 1];
      if (last && last.urgent === urgent) last.messages.push(m);
      else groups.push({ urgent: urgent, messages: [m] });
    });
    var shown = false;
    groups.forEach(function (group) {
      shown = addBotTurn(group.messages, frame.ts, group.urgent, role) || shown;
    });
    if (shown && replyTo) {
      answered[replyTo] = true;
      if (!isStaff(role)) ui.log.appendChild(ratingBar(replyTo));
    }
  }

  var THUMB = "M2 10h4v11H2zM8 21h9.2a2 2 0 0 0 2-1.6l1.5-7.2A2 2 0 0 0 18.7 10H14l.7-4.1a1.9 1.9 0 0 0-3.3-1.6L8 9.5z";

  /* Thumbs up / down on the answer to one of the visitor's messages (docs/chat-protocol.md, `rate`):
     optional, one click, a real button each, so keyboards and screen readers reach them. */
  function ratingBar(replyTo) {
    var thanks = h("span", { class: "rate-thanks", role: "status", "data-testid": "rate-thanks" });
    var bar = h("div", { class: "rate", role: "group", "aria-label": t("widget_rate_label"), "data-testid": "rate" });
    ["up", "down"].forEach(function (value) {
      bar.appendChild(h("button", {
        type: "button", class: value, "aria-pressed": "false", "aria-label": t("widget_rate_" + value),
        title: t("widget_rate_" + value), "data-rating": value, "data-testid": "rate-" + value,
        click: function () { sendFrame({ type: "rate", reply_to: replyTo, rating: value }); }
      }, [icon([THUMB])]));
    });
    bar.appendChild(thanks);
    ratingBars[replyTo] = bar;
    return bar;
  }

  /* The gateway stored the rating: show which one, and thank the visitor once. */
  function onRated(frame) {
    var bar = typeof frame.reply_to === "string" ? ratingBars[frame.reply_to] : null;
    if (!bar) return;
    Array.prototype.forEach.call(bar.querySelectorAll("button"), function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-rating") === frame.rating ? "true" : "false");
    });
    bar.querySelector(".rate-thanks").textContent = t("widget_rate_thanks");
  }

  /* The same visitor's message sent from another tab of this conversation. */
  function onVisitorEcho(frame) {
    var id = typeof frame.client_id === "string" ? frame.client_id : null;
    if (id && rows[id]) return;
    addVisitorRow(frame.display_text || frame.text, frame.ts, id, "sent");
  }

  function onError(frame) {
    var code = String(frame.code || "");
    /* The gateway's words; for a frame without them, its words for the code (from the welcome). */
    var text = typeof frame.message === "string" && frame.message.trim() ? frame.message
      : t(code) || t("widget_error_fallback");
    var id = typeof frame.client_id === "string" ? frame.client_id : null;
    setTyping(false);
    if (id && code === "rate_limited") {
      delete sentOnSocket[id];
      setRowState(id, "waiting");
      var wait = Math.max(1, Math.min(300, Number(frame.retry_after) || 10));
      setTimeout(function () {
        var item = outboxGet(id);
        if (item) transmit(item);
      }, wait * 1000);
    } else if (id && code === "assistant_unavailable") {
      outboxRemove(id); /* received; the notice says how to reach a person */
      setRowState(id, "sent");
    } else if (id) {
      outboxRemove(id);
      setRowState(id, "failed");
    }
    notice(text, code === "assistant_unavailable");
    if (code === "hello_required") drop();
  }

  /* ---------- start ---------- */

  function start() {
    if (!document.body || !build()) return;
    window.EngageChat = {
      __engage: true,
      open: function () { open(true); },
      close: function () { close(false); },
      send: function (text) { return submit(text, null); }
    };
    renderOutbox();
    status();
    window.addEventListener("online", function () {
      if (!ws && wanted()) { clearTimeout(retryTimer); connect(); }
    });
    window.addEventListener("offline", drop);
    // A first-time visitor's browser contacts the clinic only once they open the chat; a returning
    // one reconnects at once, so a reply from admissions reaches them even with the chat closed.
    if (wanted()) connect();
    if (config.openOnLoad) open(false);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
