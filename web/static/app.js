// aimsq: keyboard use of the review page, in-place review actions, and the
// autofill progress bar. Everything works without this file too (plain forms).
"use strict";

(function () {
  function $(sel, root) { return (root || document).querySelector(sel); }
  function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }

  // ---- autofill progress ---------------------------------------------------
  function pollProgress(box) {
    var url = box.getAttribute("data-url");
    var bar = $("progress", box), done = $(".done", box), total = $(".total", box), err = $(".error-text", box);
    function tick() {
      fetch(url, { headers: { "X-Requested-With": "fetch" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          bar.max = s.total || 1; bar.value = s.done; done.textContent = s.done; total.textContent = s.total;
          if (s.status === "review" || s.status === "exported") { window.location.assign(s.review_url); return; }
          if (s.status === "failed") { err.textContent = s.error || "failed"; return; }
          setTimeout(tick, 700);
        })
        .catch(function () { setTimeout(tick, 2000); });
    }
    tick();
  }

  // ---- review actions in place ---------------------------------------------
  function rows() { return $$("article.q"); }
  function currentRow() { return $("article.q.current") || null; }
  function setCurrent(row, scroll) {
    rows().forEach(function (r) { r.classList.remove("current"); });
    if (!row) return;
    row.classList.add("current");
    row.focus({ preventScroll: !scroll });
    if (scroll) row.scrollIntoView({ block: "center" });
  }
  function move(step) {
    var all = rows(); if (!all.length) return;
    var i = all.indexOf(currentRow());
    var next = all[Math.max(0, Math.min(all.length - 1, i < 0 ? 0 : i + step))];
    setCurrent(next, true);
  }

  function submitAction(form, submitter) {
    var row = form.closest("article.q");
    var data = new FormData(form);
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    var msg = $(".msg", row);
    $$("button", row).forEach(function (b) { b.disabled = true; });
    // Not form.action: the buttons are named "action" and would shadow it.
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); })
      .then(function (res) {
        if (!res.body.ok) {
          $$("button", row).forEach(function (b) { b.disabled = false; });
          msg.textContent = res.body.error || ("error " + res.status);
          return;
        }
        var holder = document.createElement("div");
        holder.innerHTML = res.body.html;
        var fresh = holder.firstElementChild;
        row.replaceWith(fresh);
        $("#counter-reviewed").textContent = res.body.reviewed;
        $("#counter-total").textContent = res.body.total;
        var bar = $("#counter-bar"); if (bar) { bar.max = res.body.total || 1; bar.value = res.body.reviewed; }
        setCurrent(fresh, false);
        if (res.body.status !== "pending") move(1);
      })
      .catch(function () {
        $$("button", row).forEach(function (b) { b.disabled = false; });
        msg.textContent = "The server did not answer; try again.";
      });
  }

  function clickIn(row, sel) { var b = row && $(sel, row); if (b && !b.disabled) { b.click(); return true; } return false; }

  function onKey(e) {
    if (e.target.closest("input, textarea, select")) {
      if (e.key === "Escape") { e.target.blur(); setCurrent(e.target.closest("article.q"), false); }
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.matches("textarea")) {
        e.preventDefault(); clickIn(e.target.closest("form"), "button.save");
      }
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var row = currentRow();
    switch (e.key) {
      case "j": move(1); break;
      case "k": move(-1); break;
      case "a": clickIn(row, "button.accept"); break;
      case "b": clickIn(row, "button.blank"); break;
      case "u": clickIn(row, "button.undo"); break;
      case "x": if (row) { var n = $("form.expert input[name=note]", row); if (n) n.focus(); } break;
      case "e":
        if (row) { var d = $("details.edit", row); if (d) { d.open = true; $("textarea", d).focus(); } }
        break;
      case "1": case "2": case "3":
        if (row) {
          var picks = $$("button.pick", row), p = picks[Number(e.key) - 1];
          if (p) p.click();
        }
        break;
      case "?": var h = $("#keys-help"); if (h) h.hidden = !h.hidden; break;
      default: return;
    }
    e.preventDefault();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = $("#autofill-progress");
    if (box) pollProgress(box);

    if (!$("#questions")) return;
    document.addEventListener("submit", function (e) {
      var form = e.target;
      if (!form.matches("form.act")) return;
      e.preventDefault();
      submitAction(form, e.submitter);
    });
    document.addEventListener("click", function (e) {
      var row = e.target.closest("article.q");
      if (row && !row.classList.contains("current")) setCurrent(row, false);
    });
    document.addEventListener("keydown", onKey);
    var toggle = $("#keys-help-toggle");
    if (toggle) toggle.addEventListener("click", function () { var h = $("#keys-help"); h.hidden = !h.hidden; });
    var target = window.location.hash && $(window.location.hash);
    setCurrent(target && target.matches("article.q") ? target : rows()[0], !!target);
  });
})();
