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
  // A row is one line until it is the current one; the current row opens.
  function rows() { return $$("article.q"); }
  function currentRow() { return $("article.q.current") || null; }
  function setCurrent(row, scroll) {
    rows().forEach(function (r) { if (r !== row) { r.classList.remove("current"); cancelWeakPick(r, true); } });
    if (!row) return;
    row.classList.add("current");
    row.focus({ preventScroll: true });
    if (scroll) row.scrollIntoView({ block: "nearest" });
  }
  function move(step) {
    var all = rows(); if (!all.length) return;
    var i = all.indexOf(currentRow());
    var next = all[Math.max(0, Math.min(all.length - 1, i < 0 ? 0 : i + step))];
    setCurrent(next, true);
  }

  // Sticky header: rows scrolled to stop below it, never under it.
  function fitHeader() {
    var head = $("#review-head");
    if (head) document.documentElement.style.setProperty("--head-h", head.offsetHeight + "px");
  }

  function updateCounts(counts) {
    if (!counts) return;
    $$("[data-count]").forEach(function (el) {
      var k = el.getAttribute("data-count");
      if (k in counts) el.textContent = counts[k];
    });
    $("#counter-reviewed").textContent = counts.reviewed;
    $("#counter-total").textContent = counts.total;
    var bar = $("#counter-bar"); if (bar) { bar.max = counts.total || 1; bar.value = counts.reviewed; }
    var bulk = $("#bulk-accept"); if (bulk) bulk.disabled = !counts["pending-high"];
    var bulkM = $("#bulk-accept-medium"); if (bulkM) bulkM.disabled = !counts["pending-medium"];
  }

  // What the bank just learned, with its undo, where the reviewer looks.
  function showNotice(html) {
    var box = $("#review-notice"); if (!box) return;
    box.innerHTML = html; box.hidden = !html; fitHeader();
  }

  function askWeakPick(row, form, submitter, message) {
    var msg = $(".msg", row);
    row.setAttribute("data-confirming", submitter.value);
    msg.textContent = "";
    var text = document.createElement("span"); text.textContent = message + " ";
    var yes = document.createElement("button"); yes.type = "button"; yes.className = "primary confirm-pick";
    yes.textContent = "Use it anyway (press the number again)";
    yes.addEventListener("click", function () { submitAction(form, submitter, true); });
    var no = document.createElement("button"); no.type = "button"; no.className = "cancel-pick"; no.textContent = "Cancel (Esc)";
    no.addEventListener("click", function () { cancelWeakPick(row); });
    msg.appendChild(text); msg.appendChild(yes); msg.appendChild(document.createTextNode(" ")); msg.appendChild(no);
    msg.classList.add("ask");
    $$("button", form).forEach(function (b) { b.disabled = false; });
    yes.focus({ preventScroll: true });
  }
  function cancelWeakPick(row, quiet) {
    if (!row || !row.hasAttribute("data-confirming")) return false;
    row.removeAttribute("data-confirming");
    var msg = $(".msg", row); msg.textContent = ""; msg.classList.remove("ask");
    if (!quiet) row.focus({ preventScroll: true });
    return true;
  }

  function submitAction(form, submitter, confirmed) {
    var row = form.closest("article.q");
    var data = new FormData(form);
    if (submitter && submitter.name) data.set(submitter.name, submitter.value);
    if (confirmed || (submitter && row.getAttribute("data-confirming") === submitter.value)) data.set("confirmed", "1");
    var msg = $(".msg", row);
    $$("button", row).forEach(function (b) { b.disabled = true; });
    // Not form.action: the buttons are named "action" and would shadow it.
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.json().then(function (j) { return { status: r.status, body: j }; }); })
      .then(function (res) {
        if (res.body.confirm) { askWeakPick(row, form, submitter, res.body.confirm); return; }
        if (!res.body.ok) {
          $$("button", row).forEach(function (b) { b.disabled = false; });
          msg.textContent = res.body.error || ("error " + res.status);
          return;
        }
        var holder = document.createElement("div");
        holder.innerHTML = res.body.html;
        var fresh = holder.firstElementChild;
        row.replaceWith(fresh);
        updateCounts(res.body.counts);
        var taught = $(".taught", fresh);
        showNotice(taught ? taught.innerHTML : "");
        setCurrent(fresh, false);
        if (res.body.status !== "pending") move(1);
      })
      .catch(function () {
        $$("button", row).forEach(function (b) { b.disabled = false; });
        msg.textContent = "The server did not answer; try again.";
      });
  }

  // "Undo the learning": the wording leaves the entry; the answer stays.
  function submitUnlearn(form) {
    var data = new FormData(form);
    var button = $("button", form); if (button) button.disabled = true;
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
      .then(function (r) { return r.json(); })
      .then(function (j) {
        var p = form.closest("p") || form;
        p.textContent = j.message || j.error || "Done.";
        var text = data.get("text");
        $$("form.unlearn").forEach(function (f) {
          var t = f.querySelector("input[name=text]");
          if (f !== form && t && t.value === text && f.getAttribute("action") === form.getAttribute("action")) {
            (f.closest("p") || f).textContent = j.message || "Done.";
          }
        });
      })
      .catch(function () { if (button) button.disabled = false; });
  }

  function clickIn(row, sel) { var b = row && $(sel, row); if (b && !b.disabled) { b.click(); return true; } return false; }

  function onKey(e) {
    if (e.key === "Escape" && cancelWeakPick(e.target.closest("article.q") || currentRow())) { e.preventDefault(); return; }
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
      case "o":
        if (row) { var alts = $("details.alts", row); if (alts) alts.open = !alts.open; }
        break;
      case "Enter":
        if (row && row.hasAttribute("data-confirming")) { var y = $(".confirm-pick", row); if (y) y.click(); break; }
        return;
      case "1": case "2": case "3":
        if (row) {
          var picks = $$("button.pick", row), p = picks[Number(e.key) - 1];
          if (p) p.click();
        }
        break;
      case "/": var f = $("#find"); if (f) { f.focus(); f.select(); } break;
      case "?": var h = $("#keys-help"); if (h) h.hidden = !h.hidden; break;
      default: return;
    }
    e.preventDefault();
  }

  // ---- dates in the reader's locale and time zone ------------------------
  function localTimes() {
    if (!window.Intl || !Intl.DateTimeFormat) return;
    var when = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
    var day = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeZone: "UTC" });
    $$("time[datetime]").forEach(function (t) {
      if (t.hasAttribute("data-local")) return;
      var d = new Date(t.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      t.title = t.textContent;
      t.textContent = (t.hasAttribute("data-date") ? day : when).format(d);
      t.setAttribute("data-local", "1");
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes();
    new MutationObserver(localTimes).observe(document.body, { childList: true, subtree: true });
    var box = $("#autofill-progress");
    if (box) pollProgress(box);
    var tickAll = $("#tick-all");
    if (tickAll) tickAll.addEventListener("click", function () {
      $$("input[type=checkbox][form=bulk-approve]").forEach(function (c) { c.checked = true; });
    });

    if (!$("#questions")) return;
    document.documentElement.classList.add("js");
    fitHeader();
    window.addEventListener("resize", fitHeader);
    document.addEventListener("submit", function (e) {
      var form = e.target;
      if (form.matches("form.unlearn")) { e.preventDefault(); submitUnlearn(form); return; }
      if (!form.matches("form.act")) return;
      e.preventDefault();
      submitAction(form, e.submitter);
    });
    document.addEventListener("click", function (e) {
      var line = e.target.closest("a.qline");
      var row = e.target.closest("article.q");
      if (line && row) {
        e.preventDefault();
        if (row.classList.contains("current")) { row.classList.remove("current"); return; }
        setCurrent(row, true);
        if (history.replaceState) history.replaceState(null, "", "#" + row.id);
        return;
      }
      if (row && !row.classList.contains("current")) setCurrent(row, false);
    });
    document.addEventListener("keydown", onKey);
    var toggle = $("#keys-help-toggle");
    if (toggle) toggle.addEventListener("click", function () { var h = $("#keys-help"); h.hidden = !h.hidden; });
    var target = window.location.hash && $(window.location.hash);
    setCurrent(target && target.matches("article.q") ? target : rows()[0], !!target);
  });
})();
