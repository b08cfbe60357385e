// Progressive enhancement of the send form: the encoding, the part count and the price while
// typing, computed by the server (the same rules as POST /v1/messages/preview). Without this
// script the "Preview" button of the form shows the same.
(function () {
  "use strict";
  var form = document.querySelector("form[data-preview]");
  if (!form) { return; }
  var text = form.querySelector("textarea[name=text]");
  var translit = form.querySelector("input[name=allow_transliteration]");
  var to = form.querySelector("textarea[name=to]");
  var out = document.getElementById("live-preview");
  var csrf = form.querySelector("input[name=csrf]");
  if (!text || !out || !csrf) { return; }
  var timer = null;
  var seq = 0;
  function update() {
    var mine = ++seq;
    var body = new URLSearchParams();
    body.set("csrf", csrf.value);
    body.set("text", text.value);
    body.set("to", to ? to.value : "");
    if (translit && translit.checked) { body.set("allow_transliteration", "on"); }
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
  text.addEventListener("input", schedule);
  if (to) { to.addEventListener("input", schedule); }
  if (translit) { translit.addEventListener("change", schedule); }
  update();
})();
