// The dashboard's copy button: optional (the link is in a read-only field
// that can be selected and copied by hand without JavaScript).
document.querySelectorAll("button.copy").forEach(function (btn) {
  var field = document.getElementById(btn.dataset.copy);
  var status = document.getElementById("copy-status");
  if (!field || !navigator.clipboard) return;
  btn.hidden = false;
  btn.addEventListener("click", function () {
    navigator.clipboard.writeText(field.value).then(function () {
      status.textContent = "Link copied.";
    }, function () {
      field.select();
      status.textContent = "Copying was refused: the link is selected, press Ctrl+C.";
    });
  });
});
