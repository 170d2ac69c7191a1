// Phát trực tiếp (issue 15): the microphone through MediaRecorder in small slices (250 ms), each POSTed in order
// with its number to the station, which levels it and fans it out to the loudspeakers. The page shows the
// elapsed time while on air and follows the session's state: if the station ends it (the phone's link was
// lost, an error), the page says so and stops the microphone.
(function () {
  "use strict";
  var root = document.getElementById("live");
  if (!root) return;
  var SLICE_MS = 250;
  var d = root.dataset, commune = d.commune;
  var form = document.getElementById("live-form"), all = document.getElementById("live-all");
  var boxes = Array.prototype.slice.call(document.querySelectorAll(".live-village"));
  var onair = document.getElementById("live-onair"), elapsed = document.getElementById("live-elapsed");
  var joined = document.getElementById("live-joined");
  var where = document.getElementById("live-where"), stopBtn = document.getElementById("live-stop");
  var status = document.getElementById("live-status"), startBtn = document.getElementById("live-start");
  var session = null, recorder = null, stream = null, queue = [], seq = 0, sending = false, ticker = null;
  var poller = null, startedAt = 0;

  if (!(navigator.mediaDevices && window.MediaRecorder)) { status.textContent = d.msgUnsupported; startBtn.disabled = true; }

  all.addEventListener("change", function () { if (all.checked) boxes.forEach(function (b) { b.checked = false; }); });
  boxes.forEach(function (b) { b.addEventListener("change", function () { if (b.checked) all.checked = false; }); });

  function api(method, path, body, type) {
    var headers = {"X-CSRF-Token": d.csrf};
    if (type) headers["Content-Type"] = type;
    return fetch(path, {method: method, credentials: "same-origin", headers: headers, body: body});
  }
  function problem(r) {
    return r.json().then(function (p) { return p.message_vi && document.documentElement.lang !== "en" ? p.message_vi : (p.message_en || p.detail); },
                         function () { return "HTTP " + r.status; });
  }
  function clock() {
    var s = Math.max(0, Math.floor((Date.now() - startedAt) / 1000));
    elapsed.textContent = String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0");
  }
  function showOnAir(on) {
    form.hidden = on; onair.hidden = !on; document.body.classList.toggle("is-on-air", on);
    if (on) { startedAt = Date.now(); clock(); ticker = setInterval(clock, 500); stopBtn.focus(); }
    else { clearInterval(ticker); clearInterval(poller); }
  }
  function pump() {  // one slice at a time, in order: the station refuses a gap
    if (sending || !queue.length || !session) return;
    sending = true;
    var blob = queue.shift(), n = seq++;
    api("POST", "/api/v1/live/" + session + "/audio?seq=" + n, blob, "audio/webm").then(function (r) {
      sending = false;
      if (r.status === 204) { pump(); return; }
      return problem(r).then(function (msg) { ended(msg); });
    }, function () { sending = false; queue.unshift(blob); seq = n; setTimeout(pump, 300); });
  }
  function releaseMic() {
    if (recorder && recorder.state !== "inactive") recorder.stop();
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    recorder = null; stream = null;
  }
  function ended(msg) {
    releaseMic(); session = null; queue = []; showOnAir(false);
    status.textContent = msg || d.msgEnded;
    setTimeout(function () { location.reload(); }, 1500);  // the list shows the new recording
  }
  function follow() {  // the station may end it (phone link lost, error): say so
    poller = setInterval(function () {
      if (!session) return;
      api("GET", "/api/v1/live/" + session).then(function (r) { return r.json(); }).then(function (s) {
        // only the loudspeakers' own reports count: how many joined of those named (late joiners too)
        if (s.on_air && joined) joined.textContent = s.joined + "/" + s.device_count + " " + d.msgJoined;
        if (!s.on_air && session) ended(s.end_reason === "link_lost" ? d.msgLinkLost : s.end_reason === "stopped" ? d.msgEnded : d.msgFailed);
      }, function () {});
    }, 2000);
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var chosen = boxes.filter(function (b) { return b.checked; }).map(function (b) { return parseInt(b.value, 10); });
    if (!all.checked && !chosen.length) { status.textContent = d.msgChoose; return; }
    startBtn.disabled = true; status.textContent = d.msgStarting;
    navigator.mediaDevices.getUserMedia({audio: {echoCancellation: true, noiseSuppression: true, autoGainControl: true}})
      .then(function (s) {
        stream = s;
        // for measurement (bench/live.py listens to what the microphone gives, to time "mouth to speaker")
        document.dispatchEvent(new CustomEvent("loa:live-stream", {detail: s}));
        return api("POST", "/api/v1/communes/" + commune + "/live",
                   JSON.stringify({villages: all.checked ? null : chosen}), "application/json");
      }, function () { throw new Error(d.msgMic); })
      .then(function (r) {
        if (r.status !== 201) return problem(r).then(function (msg) { throw new Error(msg); });
        return r.json();
      })
      .then(function (s) {
        session = s.id; seq = 0; queue = [];
        var type = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus"].filter(function (t) { return MediaRecorder.isTypeSupported(t); })[0];
        recorder = new MediaRecorder(stream, type ? {mimeType: type, audioBitsPerSecond: 32000} : {});
        recorder.ondataavailable = function (e) { if (e.data.size && session) { queue.push(e.data); pump(); } };
        recorder.start(SLICE_MS);
        where.textContent = all.checked ? all.parentNode.textContent.trim()
          : boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.parentNode.textContent.trim(); }).join(", ");
        status.textContent = ""; startBtn.disabled = false;
        showOnAir(true); follow();
      })
      .catch(function (e) { releaseMic(); startBtn.disabled = false; status.textContent = e.message; });
  });

  stopBtn.addEventListener("click", function () {
    var id = session;
    stopBtn.disabled = true;
    releaseMic(); session = null;
    api("POST", "/api/v1/live/" + id + "/stop").then(function () { stopBtn.disabled = false; ended(d.msgEnded); },
                                                       function () { stopBtn.disabled = false; ended(d.msgEnded); });
  });

  if (d.onAirId) {  // this page was reloaded while a session is on air (another tab, another cadre): offer the stop
    session = d.onAirId; showOnAir(true); follow();
  }
})();
