// The admissions console's live layer: a websocket that reloads the queue when it changes,
// appends new messages and notes to an open conversation, raises a notification and a tone for a
// new waiting visitor, keeps waiting times current and drops canned replies into the reply box.
// The pages work without it; this only keeps them fresh.
(function () {
  "use strict";
  var body = document.body;
  var page = body.dataset.page;
  var status = document.getElementById("live-status");
  if (!status) return; // the sign-in page
  var socket = null;
  var retry = 1000;
  var connectedBefore = false;
  var alerted = {};
  var audio = null;

  function say(text) { status.textContent = text; }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/console/ws");
    socket.onopen = function () {
      retry = 1000; say(""); body.dataset.live = "on";
      // Frames sent while the socket was down are lost: catch up after a reconnect.
      if (connectedBefore) catchUp();
      connectedBefore = true;
    };
    socket.onmessage = function (event) { receive(JSON.parse(event.data)); };
    socket.onclose = function (event) {
      body.dataset.live = "off";
      if (event.code === 4401) { location.href = "/console/login"; return; }
      say("Live updates paused; reconnecting…");
      setTimeout(connect, retry);
      retry = Math.min(retry * 2, 30000);
    };
  }

  function receive(frame) {
    if (frame.type === "queue") {
      // A crisis typed while waiting (or while with staff) raises the handoff to urgent: alert again.
      if (frame.reason === "opened" || frame.reason === "escalated") alertNewVisitor(frame);
      if (page === "queue") reloadQueue();
    } else if (page === "conversation" && frame.conversation_id === body.dataset.conversation) {
      if (frame.type === "message") append("transcript", frame.role, frame.role === "visitor" ? "Visitor" : frame.name || "Staff", frame.text);
      if (frame.type === "note") append("note-list", "note", frame.name, frame.text);
    }
  }

  function append(listId, role, who, text) {
    var list = document.getElementById(listId);
    if (!list) return;
    var item = document.createElement("li");
    item.className = role + " fresh";
    var name = document.createElement("strong");
    name.textContent = who + ":";
    item.appendChild(name);
    item.appendChild(document.createTextNode(" " + text));
    list.appendChild(item);
  }

  function catchUp() {
    if (page === "queue") reloadQueue(true);
    var reply = document.getElementById("reply-text");
    // A conversation page reloads itself, unless that would throw away a reply being typed.
    if (page === "conversation") {
      if (reply && reply.value) say("Reconnected. Reload the page to see messages sent meanwhile.");
      else location.reload();
    }
  }

  function reloadQueue(alertMissed) {
    fetch("/console/queue/rows", { credentials: "same-origin", cache: "no-store" }).then(function (response) {
      if (response.redirected || !response.ok) return null;
      return response.text();
    }).then(function (html) {
      if (html === null) return;
      // Server-rendered and autoescaped by the same templates as the page itself.
      document.getElementById("queue-tables").innerHTML = html;
      tickWaiting();
      // A crisis that arrived while the socket was down still gets its alert.
      if (alertMissed) {
        document.querySelectorAll("[data-testid=waiting] tr[data-priority=urgent]").forEach(function (row) {
          alertNewVisitor({ handoff_id: Number(row.dataset.handoff), priority: "urgent" });
        });
      }
    });
  }

  function alertNewVisitor(frame) {
    var urgent = frame.priority === "urgent";
    var key = frame.handoff_id + ":" + (urgent ? "urgent" : "normal");
    if (alerted[key]) return;
    alerted[key] = true;
    var text = urgent ? "URGENT: a visitor in crisis is waiting" : "A visitor is waiting for a person";
    say(text);
    body.dataset.alerts = String(Number(body.dataset.alerts || 0) + 1);
    if (window.Notification && Notification.permission === "granted") {
      new Notification("Admissions console", { body: text, tag: "handoff-" + frame.handoff_id, requireInteraction: urgent });
    }
    tone(urgent ? 3 : 1);
  }

  function tone(times) {
    if (!audio) return; // browsers allow sound only after the person has clicked on the page
    for (var i = 0; i < times; i++) {
      var oscillator = audio.createOscillator();
      var gain = audio.createGain();
      oscillator.frequency.value = 880;
      gain.gain.value = 0.2;
      oscillator.connect(gain).connect(audio.destination);
      var start = audio.currentTime + i * 0.35;
      oscillator.start(start);
      oscillator.stop(start + 0.2);
    }
    body.dataset.tones = String(Number(body.dataset.tones || 0) + times);
  }

  function enableAlerts() {
    var AudioContext = window.AudioContext || window.webkitAudioContext;
    if (AudioContext && !audio) audio = new AudioContext();
    if (window.Notification && Notification.permission === "default") Notification.requestPermission();
    button.hidden = true;
  }

  function tickWaiting() {
    var highlight = Number(body.dataset.highlightSeconds || 0);
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-since]").forEach(function (cell) {
      var waited = now - Number(cell.dataset.since);
      var minutes = Math.floor(waited / 60);
      cell.textContent = minutes < 1 ? "just now" : minutes + " min";
      if (highlight && waited > highlight) cell.parentNode.classList.add("overdue");
    });
  }

  var button = document.getElementById("enable-alerts");
  if (button) {
    button.hidden = false;
    button.addEventListener("click", enableAlerts);
  }
  var canned = document.getElementById("canned");
  if (canned) {
    canned.addEventListener("change", function () {
      var box = document.getElementById("reply-text");
      if (canned.value) box.value = box.value ? box.value + " " + canned.value : canned.value;
      canned.value = "";
      box.focus();
    });
  }
  document.querySelectorAll("[data-testid=presence]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
  // The server counts a console as present while it hears from it; presence times out after 2 minutes.
  setInterval(function () { if (socket && socket.readyState === 1) socket.send('{"type":"ping"}'); }, 30000);
  setInterval(tickWaiting, 15000);
  tickWaiting();
  connect();
})();
