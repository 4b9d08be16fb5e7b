// Streams a build log while it is written (server-sent events), into <pre data-stream>.
(function () {
  "use strict";
  function follow(pre) {
    var state = document.getElementById("build-log-state");
    var source = new EventSource(pre.dataset.stream);
    source.onmessage = function (event) {
      pre.append(event.data + "\n");
      pre.scrollTop = pre.scrollHeight;
    };
    source.addEventListener("end", function (event) {
      source.close();
      if (state) { state.textContent = "build log complete (" + event.data + ")"; }
    });
    source.onerror = function () {
      if (source.readyState === EventSource.CLOSED && state) { state.textContent = "stream closed"; }
    };
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("pre[data-stream]").forEach(follow);
  });
})();
