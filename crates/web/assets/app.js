// Progressive enhancement of the send form: the encoding, the part count and the price while
// typing, computed by the server (the same rules as POST /v1/messages/preview). Without this
// script the "Preview" button of the form shows the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview]");
  if (!form) { return; }
  var text = form.querySelector("textarea[name=text]");
  var out = document.getElementById("live-preview");
  var csrf = form.querySelector("input[name=csrf]");
  if (!text || !out || !csrf) { return; }
  var timer = null;
  var seq = 0;
  function update() {
    var mine = ++seq;
    // Every field of the form: numbers or list, text, and the boxes that change the text.
    var body = new URLSearchParams(new FormData(form));
    fetch(form.getAttribute("data-preview"), {
      method: "POST",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body.toString(),
      credentials: "same-origin"
    }).then(function (r) { return r.ok ? r.json() : null; }).then(function (p) {
      if (!p || mine !== seq) { return; }
      out.textContent = p.summary;
    }).catch(function () { /* the Preview button still works */ });
  }
  function schedule() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(update, 150);
  }
  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  update();
})();

// Progressive enhancement of a contact upload: the bytes sent so far in a progress bar, then
// the import's report. Without this script the form posts the same file and the browser shows
// the report when the server has read it all.
(function () {
  "use strict";
  var form = document.querySelector("form[data-upload]");
  if (!form || !window.XMLHttpRequest || !window.FormData) { return; }
  var bar = form.querySelector("progress");
  var status = form.querySelector("[data-upload-status]");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.getAttribute("action"));
    if (bar) { bar.hidden = false; bar.value = 0; }
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      var pct = Math.floor(e.loaded * 100 / e.total);
      if (bar) { bar.value = pct; }
      if (status) { status.textContent = pct + " %"; }
    });
    xhr.addEventListener("load", function () {
      if (xhr.status >= 200 && xhr.status < 300 && xhr.responseURL) {
        window.location.assign(xhr.responseURL);
      } else {
        document.open();
        document.write(xhr.responseText);
        document.close();
      }
    });
    xhr.addEventListener("error", function () {
      if (status) { status.textContent = form.getAttribute("data-upload-error") || "Upload failed."; }
    });
    xhr.send(new FormData(form));
  });
})();
