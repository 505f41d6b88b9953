// Artifact uploads with progress: the file goes as the raw body of a PUT,
// which the server streams to the blob store without buffering it.
document.querySelectorAll("form[data-upload]").forEach(function (form) {
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var file = form.querySelector("input[type=file]").files[0];
    if (!file) return;
    var status = form.querySelector("[data-upload-status]");
    var bar = form.querySelector("progress");
    var csrf = form.querySelector("input[type=hidden]").value;
    var q = new URLSearchParams();
    ["platform", "arch"].forEach(function (n) {
      var v = form.querySelector("input[name=" + n + "]").value.trim();
      if (v) q.set(n, v);
    });
    var xhr = new XMLHttpRequest();
    xhr.open("PUT", form.dataset.upload + encodeURIComponent(file.name) + (q.toString() ? "?" + q : ""));
    xhr.setRequestHeader("X-CSRF-Token", csrf);
    xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        status.textContent = "Uploading… " + bar.value + "%";
      }
    };
    xhr.onload = function () {
      if (xhr.status === 201) {
        status.textContent = "Uploaded.";
        window.location.reload();
        return;
      }
      var msg = "Upload failed (" + xhr.status + ")";
      try { msg = JSON.parse(xhr.responseText).error.message; } catch (e) {}
      status.textContent = msg;
    };
    xhr.onerror = function () { status.textContent = "Upload failed: the connection was lost."; };
    xhr.send(file);
  });
});
