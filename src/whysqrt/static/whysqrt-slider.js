/* Static sliders for "Why sqrt(d_k)?": swaps pre-rendered frames, no kernel, no network.
 * Markup comes from whysqrt.interactive.Interactive.static_html(). */
(function () {
  "use strict";
  function setup(fig) {
    if (fig.dataset.wsReady) return;
    var data = JSON.parse(fig.querySelector("script.ws-frames").textContent);
    var img = fig.querySelector("img.ws-frame");
    var inputs = data.order.map(function (name) {
      return fig.querySelector('[data-param="' + name + '"]');
    });
    function index(input) {
      return input.type === "checkbox" ? (input.checked ? 1 : 0) : Number(input.value);
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
      var frame = data.frames[inputs.map(index).join("|")];
      if (frame) {
        img.src = frame.src;
        img.alt = frame.alt;
      }
    }
    inputs.forEach(function (input) {
      input.addEventListener("input", update);
      input.addEventListener("change", update);
    });
    fig.dataset.wsReady = "1";
  }
  function init() {
    document.querySelectorAll("figure.ws-slider").forEach(setup);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
