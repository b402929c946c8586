/* Static sliders for "Why sqrt(d_k)?": swaps pre-rendered frames, no kernel, no network.
 * Markup comes from whysqrt.interactive.Interactive.static_html(). On the site the frames
 * are not inline: whysqrt.sphinx_frames moves them to _static/ws-frames/<id>.js, named by
 * the figure's data-frames attribute, and this script loads that file when the figure
 * comes near the viewport or a control is touched (a plain <script> element, so it works
 * from file:// too). */
(function () {
  "use strict";
  var store = (window.wsFrames = window.wsFrames || {});
  var waiting = {}; // figure id -> callbacks to run once its frames arrive

  function load(fig, done) {
    var id = fig.id;
    if (store[id]) return done(store[id]);
    if (waiting[id]) return waiting[id].push(done);
    waiting[id] = [done];
    var s = document.createElement("script");
    s.src = fig.dataset.frames;
    s.async = true;
    s.onload = function () {
      (waiting[id] || []).forEach(function (cb) { cb(store[id]); });
      delete waiting[id];
    };
    document.head.appendChild(s);
  }

  function setup(fig) {
    if (fig.dataset.wsReady) return;
    var inline = fig.querySelector("script.ws-frames");
    if (inline) store[fig.id] = JSON.parse(inline.textContent);
    var img = fig.querySelector("img.ws-frame");
    var order = JSON.parse(fig.dataset.order);
    var inputs = order.map(function (name) {
      return fig.querySelector('[data-param="' + name + '"]');
    });
    function index(input) {
      if (input.type === "checkbox") {
        return Number(input.checked ? input.dataset.on : input.dataset.off);
      }
      return Number(input.value);
    }
    function show(data) {
      var frame = data.frames[inputs.map(index).join("|")];
      if (frame) {
        img.src = frame.src;
        img.alt = frame.alt;
      }
    }
    function update() {
      inputs.forEach(function (input) {
        if (input.type === "range") {
          var label = JSON.parse(input.dataset.labels)[index(input)];
          input.setAttribute("aria-valuetext", label);
          var out = fig.querySelector('output[for="' + input.id + '"]');
          if (out) out.textContent = label;
        }
      });
      load(fig, show);
    }
    inputs.forEach(function (input) {
      input.addEventListener("input", update);
      input.addEventListener("change", update);
      // touching a control fetches the frames before the first move needs them
      input.addEventListener("focus", function () { load(fig, function () {}); });
      input.addEventListener("pointerdown", function () { load(fig, function () {}); });
    });
    fig.dataset.wsReady = "1";
    return !store[fig.id];
  }

  function init() {
    var lazy = [];
    document.querySelectorAll("figure.ws-slider").forEach(function (fig) {
      if (setup(fig)) lazy.push(fig);
    });
    if (!lazy.length) return;
    if (!("IntersectionObserver" in window)) {
      lazy.forEach(function (fig) { load(fig, function () {}); });
      return;
    }
    var near = new IntersectionObserver(function (entries) {
      entries.forEach(function (e) {
        if (e.isIntersecting) {
          near.unobserve(e.target);
          load(e.target, function () {});
        }
      });
    }, { rootMargin: "600px 0px" });
    lazy.forEach(function (fig) { near.observe(fig); });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
