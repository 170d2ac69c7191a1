/* Loa — small progressive helpers. Every page works without this file; it only adds the live preview,
   the sample listen and the microphone recorder. */
(function () {
  "use strict";
  function csrf() {
    var m = document.cookie.match(/(?:^|; )loa_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function post(url, body) {
    return fetch(url, {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf()}, body: JSON.stringify(body)});
  }
  function problem(r) {
    return r.json().then(function (p) { return p.detail || p.title || r.status; }, function () { return r.status; });
  }
  document.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });
  // Behaviours that used to be inline attributes (the Content-Security-Policy runs no inline script).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  document.querySelectorAll("a[data-back]").forEach(function (el) {
    el.addEventListener("click", function (e) { if (history.length > 1) { e.preventDefault(); history.back(); } });
  });

  // Compose: the words that will be spoken, live; the voice list follows the chosen reader; a sample listen.
  var form = document.getElementById("compose");
  if (form) {
    var text = form.querySelector("#text"), engine = form.querySelector("#engine"), voice = form.querySelector("#voice");
    var box = document.getElementById("words"), list = document.getElementById("words-list"), timer = null;
    var air = document.getElementById("airtime"), speedSel = form.querySelector("#speed");
    var showWords = function () {
      if (!text.value.trim()) { box.hidden = true; return; }
      post(form.dataset.words, {text: text.value, voice: voice.value || null,
        speed: parseFloat(speedSel.value) || 1}).then(function (r) {
        return r.ok ? r.json() : null;
      }).then(function (data) {
        if (!data) return;
        list.textContent = "";
        data.sentences.forEach(function (s) { var li = document.createElement("li"); li.textContent = s; list.appendChild(li); });
        box.hidden = false;
        if (air && data.airtime) {  // estimated airtime, with the warning past 5 minutes and over the limit
          air.textContent = (data.airtime.level === "ok" ? "" : "\u26a0 ") + data.airtime.text;
          air.className = "airtime airtime-" + data.airtime.level;
        }
      });
    };
    text.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(showWords, 600); });
    voice.addEventListener("change", showWords);
    speedSel.addEventListener("change", showWords);
    document.getElementById("show-words").addEventListener("click", function (e) { e.preventDefault(); showWords(); });
    var filterVoices = function () {
      Array.prototype.forEach.call(voice.options, function (o) {
        o.hidden = !!o.dataset.engine && engine.value !== "auto" && o.dataset.engine !== engine.value;
      });
      if (voice.selectedOptions[0] && voice.selectedOptions[0].hidden) voice.value = "";
    };
    engine.addEventListener("change", filterVoices);
    filterVoices();
    var listenBtn = document.getElementById("listen"), audio = document.getElementById("listen-audio");
    var status = document.getElementById("listen-status");
    listenBtn.addEventListener("click", function () {
      if (!text.value.trim()) { text.focus(); return; }
      listenBtn.disabled = true; status.textContent = listenBtn.dataset.wait || "…";
      post(form.dataset.listen, {text: text.value, engine: engine.value, voice: voice.value || null,
        speed: parseFloat(form.querySelector("#speed").value)}).then(function (r) {
        if (!r.ok) return problem(r).then(function (m) { throw new Error(m); });
        return r.blob();
      }).then(function (blob) {
        audio.src = URL.createObjectURL(blob); audio.hidden = false; status.textContent = "";
        audio.play().catch(function () {});
      }).catch(function (e) { status.textContent = e.message; }).finally(function () { listenBtn.disabled = false; });
    });
  }

  // Record: MediaRecorder from the microphone; the result goes into the form's file field, so the normal
  // upload (with its checks) takes it from there.
  var rec = document.getElementById("rec-start");
  if (rec) {
    var stop = document.getElementById("rec-stop"), out = document.getElementById("rec-audio");
    var st = document.getElementById("rec-status"), file = document.getElementById("file");
    if (!(navigator.mediaDevices && window.MediaRecorder)) {
      rec.parentNode.hidden = true;
    } else {
      var recorder = null, chunks = [];
      rec.addEventListener("click", function () {
        navigator.mediaDevices.getUserMedia({audio: true}).then(function (stream) {
          var type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4"].filter(function (t) {
            return MediaRecorder.isTypeSupported(t); })[0];
          recorder = new MediaRecorder(stream, type ? {mimeType: type} : {});
          chunks = [];
          recorder.ondataavailable = function (e) { if (e.data.size) chunks.push(e.data); };
          recorder.onstop = function () {
            stream.getTracks().forEach(function (t) { t.stop(); });
            var blob = new Blob(chunks, {type: recorder.mimeType || "audio/webm"});
            var ext = /ogg/.test(blob.type) ? "ogg" : /mp4/.test(blob.type) ? "m4a" : "webm";
            out.src = URL.createObjectURL(blob); out.hidden = false;
            var dt = new DataTransfer();
            dt.items.add(new File([blob], "ghi-am." + ext, {type: blob.type}));
            file.files = dt.files;
            st.textContent = Math.round(blob.size / 1024) + " KB ✔";
            rec.hidden = false; stop.hidden = true;
          };
          recorder.start(1000);
          rec.hidden = true; stop.hidden = false; st.textContent = "● " + (st.dataset.recording || "");
          stop.focus();
        }).catch(function (e) { st.textContent = st.dataset.denied || e.message; });
      });
      stop.addEventListener("click", function () { if (recorder) recorder.stop(); });
    }
  }

  // Schedule form: hear a few seconds of the chosen relay stream, fetched by the station (same origin).
  var relayListen = document.getElementById("stream-listen");
  if (relayListen) {
    var streamSel = document.getElementById("stream_id"), streamAudio = document.getElementById("stream-audio");
    var streamSt = document.getElementById("stream-status");
    relayListen.addEventListener("click", function () {
      if (!streamSel.value) { streamSt.textContent = relayListen.dataset.choose; streamSel.focus(); return; }
      relayListen.disabled = true; streamSt.textContent = relayListen.dataset.wait;
      fetch(streamSel.dataset.listen + encodeURIComponent(streamSel.value) + "/listen", {credentials: "same-origin"})
        .then(function (r) {
          if (!r.ok) return r.text().then(function (m) { throw new Error(m || r.status); });
          return r.blob();
        }).then(function (blob) {
          streamAudio.src = URL.createObjectURL(blob); streamAudio.hidden = false; streamSt.textContent = "";
          streamAudio.play().catch(function () {});
        }).catch(function (e) { streamAudio.hidden = true; streamSt.textContent = e.message; })
        .finally(function () { relayListen.disabled = false; });
    });
  }

})();
